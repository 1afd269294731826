package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
)

// lockedBuffer is a bytes.Buffer safe to read while a command writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestSimDeepSeekPersonality runs `dsgate sim --personality deepseek` as
// another package's end-to-end test would, and checks its key and model
// rules over a real socket.
func TestSimDeepSeekPersonality(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"sim", "--personality", "deepseek", "--listen", "127.0.0.1:0", "--api-key", "sk-k"}, &out, &errb)
	}()
	addrRe := regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`)
	var addr string
	testkit.Eventually(t, 10*time.Second, "the sim's listen address in its log", func() bool {
		if m := addrRe.FindStringSubmatch(errb.String()); m != nil {
			addr = m[1]
			return true
		}
		select {
		case code := <-done:
			t.Fatalf("sim exited with %d: %s", code, errb.String())
		default:
		}
		return false
	})
	post := func(key, model string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/chat/completions",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("sk-k", "deepseek-v4-flash"); code != 200 || !strings.Contains(body, `"reasoning_content"`) {
		t.Errorf("chat = %d %s", code, body)
	}
	if code, body := post("sk-other", "deepseek-v4-flash"); code != 401 || !strings.Contains(body, "****ther is invalid") {
		t.Errorf("wrong key = %d %s", code, body)
	}
	if code, body := post("sk-k", "deepseek-chat"); code != 400 || !strings.Contains(body, "but you passed deepseek-chat.") {
		t.Errorf("retired alias = %d %s", code, body)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit code %d: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop")
	}
	if _, stderr, code := run(t, "sim", "--personality", "vllm"); code == 0 || !strings.Contains(stderr, "personality") {
		t.Errorf("unknown personality: %d %s", code, stderr)
	}
}

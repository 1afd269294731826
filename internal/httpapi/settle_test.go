package httpapi_test

import (
	"bufio"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/httpapi"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/upstream"
)

// slowSettle is a limiter backend whose settlement waits, as a remote
// one (Redis) can: until release is closed, or 10 s.
type slowSettle struct {
	*ratelimit.MemoryBackend
	release  chan struct{}
	released chan bool // whether release came before the 10 s
}

func (s slowSettle) Settle(ctx context.Context, st ratelimit.Settlement) error {
	select {
	case <-s.release:
		s.released <- true
	case <-time.After(10 * time.Second):
		s.released <- false
	}
	return s.MemoryBackend.Settle(ctx, st)
}

// The gateway leaves a finished stream's last events to the response's
// end (TestBurstStreamIsOneWrite), but they must not wait for the
// request's settlement when that waits on a remote store. (Found by a
// review: the last chunk and [DONE] came only after a slow limiter
// backend's settlement.) The settlement here waits until the client has
// read [DONE].
func TestLastChunkDoesNotWaitForSettlement(t *testing.T) {
	t.Parallel()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte("data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"hi\"},\"finish_reason\":null}]}\n\n"))
		w.(http.Flusher).Flush()
		time.Sleep(50 * time.Millisecond)
		w.Write([]byte("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"))
	}))
	t.Cleanup(up.Close)
	u := upstream.New(upstream.Options{Name: "local", Kind: upstream.KindOpenAI, URL: up.URL})
	gw := gateway.New(gateway.Options{Routes: []gateway.Route{{Name: "deepseek-chat",
		Pool: upstream.NewPool([]*upstream.Target{{Upstream: u, Model: "m"}}, &upstream.RoundRobin{}, upstream.DefaultRules())}}})
	policy, err := auth.NewPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	settle := slowSettle{ratelimit.NewMemoryBackend(), make(chan struct{}), make(chan bool, 1)}
	limiter, err := ratelimit.New(ratelimit.Options{Backend: settle, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	acc := access.New(access.Options{Authn: principals, Policy: policy, Limiter: limiter})
	srv := httptest.NewServer(httpapi.New(httpapi.Options{Gateway: func() *gateway.Gateway { return gw }, Access: acc,
		Pipeline: pipeline.New(pipeline.Options{Backend: func() pipeline.Backend { return gw }, Access: acc}),
		Logger:   slog.New(slog.DiscardHandler), MaxBodyBytes: 1 << 20, RequestTimeout: 30 * time.Second}))
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", strings.NewReader(streamBody))
	req.Header.Set("Authorization", "Bearer "+keyOneAtATime) // one at a time: the ticket settles
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var text bool
	for sc.Scan() {
		switch l := sc.Text(); {
		case strings.Contains(l, `" there"`):
			text = true
		case l == "data: [DONE]":
			close(settle.release)
		}
	}
	if !text {
		t.Fatal("the last chunk is missing")
	}
	if !<-settle.released {
		t.Error("the last chunk and [DONE] reached the client only after the settlement")
	}
}

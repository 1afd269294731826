// Package llamatest runs llama.cpp's llama-server for tests: it finds
// the binary scripts/llamacpp.sh built and cached, writes the tiny models
// of package tinymodel, and starts, kills and restarts servers on loopback
// ports. Only tests import it.
package llamatest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/testkit"
	"github.com/dsgate/dsgate/internal/tinymodel"
)

const hint = "run scripts/llamacpp.sh (builds llama-server once, cached) and set " + tinymodel.HomeEnv + " to what it prints"

// Env is a llama.cpp installation with the tiny models written.
type Env struct {
	Binary string
	Models map[string]string // tinymodel file name -> path
}

// Setup finds llama-server and writes the tiny models into a temporary
// directory; without llama-server it fails or skips t (testkit.Need).
func Setup(t testing.TB) *Env {
	t.Helper()
	home, err := tinymodel.LlamaHome()
	testkit.Need(t, "llama-server", hint, err)
	bin := filepath.Join(home, "bin", "llama-server")
	_, err = os.Stat(bin)
	testkit.Need(t, "llama-server", hint, err)
	models, err := tinymodel.WriteModels(t.TempDir(), filepath.Join(home, "models"))
	if err != nil {
		t.Fatalf("writing tiny models: %v", err)
	}
	return &Env{Binary: bin, Models: models}
}

// Server is one running llama-server.
type Server struct {
	env  *Env
	args []string
	port int
	cmd  *exec.Cmd
	out  *testkit.LogBuffer
	done chan struct{}
}

// URL is the server's root.
func (s *Server) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", s.port) }

// Launch starts llama-server on a free port with the model file (a
// tinymodel name) and extra flags, without waiting: launch several
// servers, then WaitReady on each (they load their models in parallel).
// The server is killed when the test ends; a failed test logs its
// output's tail.
func (e *Env) Launch(t testing.TB, model string, flags ...string) *Server {
	t.Helper()
	path, ok := e.Models[model]
	if !ok {
		t.Fatalf("no tiny model %q", model)
	}
	args := append([]string{"-m", path, "--host", "127.0.0.1", "--threads", "1",
		"--no-webui", "--jinja", "--metrics", "--slots", "--no-warmup"}, flags...)
	s := &Server{env: e, args: args, port: testkit.FreePort(t)}
	s.launch(t)
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("--- llama-server %s output (tail) ---\n%s", model, s.out.Tail(30))
		}
	})
	return s
}

func (s *Server) launch(t testing.TB) {
	t.Helper()
	s.out, s.done = &testkit.LogBuffer{}, make(chan struct{})
	s.cmd = exec.Command(s.env.Binary, append(s.args, "--port", fmt.Sprint(s.port))...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting llama-server: %v", err)
	}
	done := s.done
	go func() {
		s.cmd.Wait()
		close(done)
	}()
}

// WaitReady waits until the server answers /health with 200 (it answers
// 503 while it loads the model).
func (s *Server) WaitReady(t testing.TB) {
	t.Helper()
	testkit.Eventually(t, 90*time.Second, "llama-server /health", func() bool {
		select {
		case <-s.done:
			t.Fatalf("llama-server exited:\n%s", s.out.Tail(30))
		default:
		}
		resp, err := http.Get(s.URL() + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
}

// Kill SIGKILLs the server and waits until it is gone.
func (s *Server) Kill() {
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
}

// Restart starts the server again on the same port, as it was started.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	s.launch(t)
	s.WaitReady(t)
}

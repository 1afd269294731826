package batch_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/audit"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/batch"
	"github.com/dsgate/dsgate/internal/gateway"
	"github.com/dsgate/dsgate/internal/pipeline"
	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storetest"
	"github.com/dsgate/dsgate/internal/upstream"
	"github.com/dsgate/dsgate/internal/usage"
)

const (
	keyAdmin    = "dsg_admin_secret"
	keyOther    = "dsg_other_secret"
	keyChatOnly = "dsg_chatonly_secret"
	keyAnalyst  = "dsg_analyst_secret"
)

type keys map[string]*auth.Principal

func (k keys) AuthenticateCredential(_ context.Context, cred string) (*auth.Principal, error) {
	if p, ok := k[cred]; ok {
		return p, nil
	}
	return nil, errors.Join(auth.ErrUnauthenticated, errors.New("unknown key"))
}

// stack is the batch endpoints over a gateway in front of a simulator.
type stack struct {
	sim     *sim.Server
	store   store.Store
	mgr     *batch.Manager
	base    string
	audit   *auditLog    // the audit records of the calls made
	syncAPI http.Handler // POST /v1/batch
}

// auditLog collects audit records.
type auditLog struct {
	mu     sync.Mutex
	events []audit.Event
}

func (a *auditLog) Record(e audit.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
}

// byRoute returns the records of route.
func (a *auditLog) byRoute(route string) []audit.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []audit.Event
	for _, e := range a.events {
		if e.Route == route {
			out = append(out, e)
		}
	}
	return out
}

type stackOptions struct {
	sim     sim.Options
	sync    batch.SyncOptions
	workers int
	usage   *usage.Recorder // records the callers' usage when set
}

func newStack(t *testing.T, o stackOptions) *stack {
	t.Helper()
	s := sim.New(o.sim)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	u := upstream.New(upstream.Options{Name: "a", Kind: upstream.KindOpenAI, URL: hs.URL,
		FirstTokenTimeout: 10 * time.Second, IdleTimeout: 5 * time.Second})
	pool := func(model string) *upstream.Pool {
		return upstream.NewPool([]*upstream.Target{{Upstream: u, Model: model}}, &upstream.RoundRobin{}, upstream.DefaultRules())
	}
	gw := gateway.New(gateway.Options{Routes: []gateway.Route{
		{Name: "deepseek-chat", Pool: pool("deepseek-chat")},
		{Name: "deepseek-reasoner", Pool: pool("deepseek-reasoner")},
	}, MaxAttempts: 1})
	policy, err := auth.NewPolicy(nil)
	if err != nil {
		t.Fatal(err)
	}
	limiter, err := ratelimit.New(ratelimit.Options{Backend: ratelimit.NewMemoryBackend()})
	if err != nil {
		t.Fatal(err)
	}
	acc := access.New(access.Options{
		Authn: keys{
			keyAdmin:    {ID: "admin", Kind: auth.KindKey, Role: "admin"},
			keyOther:    {ID: "other", Kind: auth.KindKey, Role: "admin"},
			keyChatOnly: {ID: "chatonly", Kind: auth.KindKey, Role: "admin", Models: []string{"deepseek-chat", "gpt-9"}},
			keyAnalyst:  {ID: "analyst", Kind: auth.KindKey, Role: "analyst"},
		},
		Policy: policy, Limiter: limiter, Usage: o.usage,
	})
	audits := &auditLog{}
	exec := &batch.Executor{Pipeline: pipeline.New(pipeline.Options{Backend: func() pipeline.Backend { return gw },
		Access: acc, Recorder: pipeline.Recorder{Audit: audits}})}
	st := storetest.OpenSQLite(t)
	blobs, err := batch.NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	m := batch.NewManager(batch.Options{Store: st, Blobs: blobs, Exec: exec, Workers: o.workers,
		PollInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	o.sync.Exec = exec
	mux := http.NewServeMux()
	syncAPI := batch.NewSync(o.sync)
	mux.Handle("/v1/batch", syncAPI)
	for _, p := range []string{"/v1/files", "/v1/files/", "/v1/batches", "/v1/batches/"} {
		mux.Handle(p, m.Handler())
	}
	api := httptest.NewServer(mux)
	t.Cleanup(api.Close)
	return &stack{sim: s, store: st, mgr: m, base: api.URL, audit: audits, syncAPI: syncAPI}
}

func (s *stack) client(key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(s.base+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

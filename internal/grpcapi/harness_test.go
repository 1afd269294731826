package grpcapi_test

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/dsgate/dsgate/internal/access"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/cache"
	"github.com/dsgate/dsgate/internal/gateway"
	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/grpcapi"
	"github.com/dsgate/dsgate/internal/httpapi"
	"github.com/dsgate/dsgate/internal/ratelimit"
	"github.com/dsgate/dsgate/internal/sim"
	"github.com/dsgate/dsgate/internal/upstream"
	"github.com/dsgate/dsgate/internal/usage"
)

// Test credentials, each a principal of the built-in roles.
const (
	keyAdmin    = "dsg_admin_secret"
	keyAnalyst  = "dsg_analyst_secret"
	keyLimited  = "dsg_limited_secret" // 1 request per minute
	keyChatOnly = "dsg_chatonly_secret"
)

// keys is an Authenticator over a fixed table.
type keys map[string]*auth.Principal

func (k keys) AuthenticateCredential(_ context.Context, cred string) (*auth.Principal, error) {
	if p, ok := k[cred]; ok {
		return p, nil
	}
	return nil, errors.Join(auth.ErrUnauthenticated, errors.New("unknown key"))
}

// env is a gRPC server and an HTTP server over one gateway and one access
// controller, in front of a simulator.
type env struct {
	sim    *sim.Server
	conn   *grpc.ClientConn
	client pb.InferenceServiceClient
	http   string // base URL of the HTTP API
	gw     *gateway.Gateway
}

type envOptions struct {
	sim            sim.Options
	requestTimeout time.Duration
	idleTimeout    time.Duration
	observe        func(context.Context, grpcapi.Call)
	cache          bool // a memory response cache in the gateway
	// wrap, when set, wraps the gateway (to inject faults).
	wrap func(grpcapi.Backend) grpcapi.Backend
	// usage, when set, records the callers' usage.
	usage *usage.Recorder
}

func startEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	s := sim.New(o.sim)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	u := upstream.New(upstream.Options{Name: "a", Kind: upstream.KindOpenAI, URL: hs.URL,
		FirstTokenTimeout: 10 * time.Second, IdleTimeout: 5 * time.Second})
	pool := func(model string) *upstream.Pool {
		return upstream.NewPool([]*upstream.Target{{Upstream: u, Model: model}}, &upstream.RoundRobin{}, upstream.DefaultRules())
	}
	gopts := gateway.Options{Routes: []gateway.Route{
		{Name: "deepseek-chat", Pool: pool("deepseek-chat")},
		{Name: "deepseek-reasoner", Pool: pool("deepseek-reasoner")},
	}, MaxAttempts: 1}
	if o.cache {
		mem, err := cache.NewMemory(cache.MemoryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tiered, err := cache.NewTiered(cache.TieredOptions{Tiers: []cache.Tier{{Store: mem, Inline: true}}})
		if err != nil {
			t.Fatal(err)
		}
		gopts.Cache = tiered
	}
	gw := gateway.New(gopts)
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
			keyAnalyst:  {ID: "analyst", Kind: auth.KindKey, Role: "analyst"},
			keyLimited:  {ID: "limited", Kind: auth.KindKey, Role: "admin", RPM: 1},
			keyChatOnly: {ID: "chatonly", Kind: auth.KindKey, Role: "admin", Models: []string{"deepseek-chat"}},
		},
		Policy:  policy,
		Limiter: limiter,
		Usage:   o.usage,
	})
	var backend grpcapi.Backend = gw
	if o.wrap != nil {
		backend = o.wrap(gw)
	}
	srv := grpcapi.New(grpcapi.Options{
		Backend:        func() grpcapi.Backend { return backend },
		Access:         acc,
		RequestTimeout: o.requestTimeout,
		IdleTimeout:    o.idleTimeout,
		Observe:        o.observe,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	api := httptest.NewServer(httpapi.New(httpapi.Options{Gateway: func() *gateway.Gateway { return gw }, Access: acc}))
	t.Cleanup(api.Close)
	return &env{sim: s, conn: conn, client: pb.NewInferenceServiceClient(conn), http: api.URL, gw: gw}
}

// as returns a context carrying key as a bearer credential.
func as(key string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)
}

func userChat(model, text string) *pb.ChatCompletionRequest {
	return &pb.ChatCompletionRequest{Model: model, Messages: []*pb.Message{{Role: "user", Content: &text}}}
}

func ptr[T any](v T) *T { return &v }

func structFrom(m map[string]any) (*structpb.Struct, error) { return structpb.NewStruct(m) }

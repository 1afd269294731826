package grpcapi_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/connectivity"

	pb "github.com/dsgate/dsgate/internal/gen/dsgate/v1"
	"github.com/dsgate/dsgate/internal/testkit"
)

// TestIdleConnectionsAreClosed: a client connection with no call for the
// idle timeout is closed by the server (GOAWAY), as the HTTP listener
// closes idle keep-alive connections; the client reconnects on its next
// call.
func TestIdleConnectionsAreClosed(t *testing.T) {
	e := startEnv(t, envOptions{idleTimeout: 100 * time.Millisecond})
	if _, err := e.client.ListModels(as(keyAdmin), &pb.ListModelsRequest{}); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the idle connection to be closed by the server", func() bool {
		return e.conn.GetState() == connectivity.Idle
	})
	if _, err := e.client.ListModels(as(keyAdmin), &pb.ListModelsRequest{}); err != nil {
		t.Fatalf("call after the idle close: %v", err)
	}
}

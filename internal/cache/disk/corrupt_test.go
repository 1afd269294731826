package disk

import (
	"context"
	"errors"
	"testing"

	"github.com/dsgate/dsgate/internal/cache"
)

// TestCorruptionDisablesTier: when Pebble reports unrecoverable corruption
// during an operation (its Logger.Fatalf, which must not return), the
// operation fails with ErrDisabled, the tier stays off (every later call
// is a cheap error, a miss for the tiered cache) and the process lives on.
func TestCorruptionDisablesTier(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	var key cache.Key
	key[0] = 1
	if err := s.Set(context.Background(), key, cache.Entry{Model: "m", Body: []byte("{}")}, 0); err != nil {
		t.Fatal(err)
	}
	// What Pebble does on finding corruption mid-operation.
	err = func() (err error) {
		defer s.guard(&err)
		pebbleLogger{s.logger, s.disabled}.Fatalf("checksum mismatch in %s", "000001.sst")
		return nil
	}()
	if !errors.Is(err, ErrDisabled) {
		t.Fatalf("operation error = %v, want ErrDisabled", err)
	}
	if _, err := s.Get(context.Background(), key); !errors.Is(err, ErrDisabled) {
		t.Errorf("Get after corruption = %v, want ErrDisabled", err)
	}
	if err := s.Set(context.Background(), key, cache.Entry{Model: "m"}, 0); !errors.Is(err, ErrDisabled) {
		t.Errorf("Set after corruption = %v, want ErrDisabled", err)
	}
	if _, err := s.Sweep(context.Background()); !errors.Is(err, ErrDisabled) {
		t.Errorf("Sweep after corruption = %v, want ErrDisabled", err)
	}
	if st := s.Stats(); st.Errors == 0 {
		t.Errorf("refused calls are not counted: %+v", st)
	}
	// Any other panic is not Pebble's report and goes on.
	defer func() {
		if recover() == nil {
			t.Error("a foreign panic was swallowed")
		}
	}()
	func() (err error) {
		defer s.guard(&err)
		panic("not pebble")
	}()
}

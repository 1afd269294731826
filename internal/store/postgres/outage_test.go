package postgres_test

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/postgres"
	"github.com/dsgate/dsgate/internal/store/storetest"
	"github.com/dsgate/dsgate/internal/testkit/faultproxy"
)

// An outage of PostgreSQL, refused or black-holed, fails store calls within
// the connect timeout, the next ones at once; Health reports it; and the
// store serves again once PostgreSQL answers, without being reopened.
func TestPostgresOutageAndRecovery(t *testing.T) {
	dsn := storetest.PostgresDSN(t) // skips without PostgreSQL
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := faultproxy.Start(t, u.Host)
	u.Host = proxy.Addr()
	st, err := postgres.Open(context.Background(), u.String(), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	lookup := func() (time.Duration, error) {
		// The key authenticator's own bound.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		_, err := st.Key(ctx, "nosuchkey")
		return time.Since(start), err
	}
	if _, err := lookup(); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("before the outage: %v", err)
	}

	for _, mode := range []struct {
		name string
		m    faultproxy.Mode
	}{{"down", faultproxy.Down}, {"blackhole", faultproxy.Blackhole}} {
		proxy.Set(mode.m)
		// Until a connection attempt has failed, a call may wait on a
		// connection that was open (a black-holed one holds it until the
		// caller's deadline) or for one connection attempt.
		for i := 0; st.Health().Up; i++ {
			if i == 4 {
				t.Fatalf("%s: health still up after %d failed lookups: %+v", mode.name, i, st.Health())
			}
			took, err := lookup()
			if err == nil || errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s: lookup = %v during the outage, want an error", mode.name, err)
			}
			// A failed connection attempt is a store.ErrUnavailable; a
			// query on a connection that was open ends with its error
			// (EOF, reset, the caller's deadline).
			if limit := 5*time.Second + time.Second; took > limit {
				t.Errorf("%s: lookup took %v, want under the caller's deadline %v", mode.name, took, limit)
			}
		}
		for i := range 5 {
			took, err := lookup()
			if !errors.Is(err, postgres.ErrUnavailable) || !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("%s: lookup %d = %v, want ErrUnavailable", mode.name, i, err)
			}
			if took > 100*time.Millisecond {
				t.Errorf("%s: lookup %d took %v while the outage is known, want at once", mode.name, i, took)
			}
		}
		if h := st.Health(); h.Up || h.ConnectFailures == 0 || h.LastError == "" {
			t.Errorf("%s: health = %+v, want down with the error", mode.name, h)
		}

		proxy.Set(faultproxy.Up)
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, err := lookup()
			if errors.Is(err, store.ErrNotFound) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: no recovery within 10s: %v", mode.name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if h := st.Health(); !h.Up {
			t.Errorf("after %s: health = %+v, want up", mode.name, h)
		}
	}
}

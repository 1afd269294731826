package server

import "testing"

func TestMaxConnectionsFromNofile(t *testing.T) {
	for _, c := range []struct {
		configured int
		nofile     uint64
		want       int
	}{
		{0, 20000, (20000 - fdReserve) / 2}, // this bench machine: 9,872
		{0, 1024, (1024 - fdReserve) / 2},   // a common default
		{0, 300, 75},                        // a tiny limit: a quarter
		{0, 1 << 62, 1 << 30},               // "unlimited"
		{0, 0, 0},                           // unknown: no limit
		{2, 20000, 2},                       // configured
		{-1, 20000, 0},                      // turned off
	} {
		if got := maxConnections(c.configured, c.nofile); got != c.want {
			t.Errorf("maxConnections(%d, %d) = %d, want %d", c.configured, c.nofile, got, c.want)
		}
	}
}

//go:build !unix

package server

// nofileLimit is unknown here: no derived connection limit.
func nofileLimit() uint64 { return 0 }

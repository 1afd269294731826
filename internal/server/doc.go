// Package server is dsgate's composition root: it builds every component
// from a config.Config (build.go is the one place that maps config to
// component options), owns the HTTP listener and the in-process simulators,
// swaps in a new gateway on reload, and shuts down gracefully.
package server

// Package metrics owns dsgate's Prometheus collectors.
//
// One *Metrics value is built by the composition root (internal/server) from a
// prometheus.Registerer with New or NewWithOptions and passed by pointer to
// every component that records something; there are no package-level
// collectors and nothing registers itself in prometheus.DefaultRegisterer.
//
// Label values stay bounded: route patterns (never raw paths), model names
// from the configured allow-list, status codes, upstream and cache-tier names
// from config. The principal (API key or client id) is unbounded in theory, so
// it appears only in the separate dsgate_principal_* collectors, which exist
// only when Options.PrincipalLabel is set. The label sets of every other
// collector never depend on configuration, so dashboards and alerts hold.
//
// Hot path: the methods every request calls keep the children they
// observe by label values (series), so a request's lookup is a read of a Go
// map, not WithLabelValues' validation, hash and locked search; no
// allocation once the child exists. A caller that observes the same series
// in a tight loop (inter-token latency in an SSE relay) may cache the
// returned Observer for the duration of the stream.
//
// The package is a leaf: it imports only client_golang and the standard
// library. Metric names are constants (Name*) and Names lists them, so tests
// of the alert rules and the Grafana dashboard can check every expression
// against what this package really exports.
package metrics

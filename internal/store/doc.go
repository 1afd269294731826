// Package store defines dsgate's control-plane data (API keys, OAuth2
// clients, roles, token usage, revoked tokens and token-signing keys) and
// the interfaces that persist it.
//
// Two implementations exist: store/sqlite (the embedded default, one file)
// and store/postgres (shared by many replicas). Both apply their embedded
// schema migrations when opened and pass the same conformance suite in
// store/storetest. store/storeopen picks one from a DSN.
//
// Secrets never reach this package in clear text: API keys arrive as a
// SHA-256 hash, client secrets as a slow (argon2id) PHC string and signing
// keys encrypted by the caller.
//
// This package is a leaf: it imports only the standard library.
package store

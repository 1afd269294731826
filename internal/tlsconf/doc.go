// Package tlsconf builds the *tls.Config values for dsgate's listeners
// (HTTP and gRPC) and for its upstream clients.
//
// Server side: Validate refuses unsafe settings (TLS below 1.2, insecure or
// non-forward-secret cipher suites, client authentication without a CA,
// missing files). A Reloader holds the current certificate, key and client
// CA pool; Run polls the files (size, mtime and SHA-256 of the contents)
// every ReloadInterval and swaps in a new pair only if it parses, matches and
// is not expired, so a half-written or broken rotation keeps the old pair
// serving. Each handshake reads the current state, so rotation drops no
// connection: established connections keep the certificate they negotiated,
// new ones get the new one. TLS 1.3 is the default minimum; 1.2 only when
// configured.
//
// mTLS: PeerIdentity extracts the verified client certificate's identity
// (CN, else first URI or DNS SAN) for the auth layer to map to a role.
//
// Where it sits: internal/server builds a Reloader from config, runs it in
// its errgroup, and passes ServerConfig(r) to http.Server and gRPC
// credentials; internal/upstream uses ClientConfig. This package imports no
// other dsgate package.
package tlsconf

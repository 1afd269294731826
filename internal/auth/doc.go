// Package auth answers "who is calling and may they do this": API keys,
// OAuth2 client-credentials access tokens (JWT, RFC 9068) issued by dsgate
// or by a trusted company IdP, and role-based access control.
//
// It sits at steps 5 (authenticate, 401) and 6 (authorize, 403) of the
// request pipeline. It provides building blocks, not middleware:
//
//   - Authenticator: Authenticate(ctx, r) returns a *Principal; KeyAuthenticator
//     (dsg_<id>_<secret> keys, cached), TokenVerifier (JWT) and Chain (picks
//     one by the credential's shape).
//   - Policy.Allow(p, resource, action, model) applies roles (built-in, from
//     the store, from config) with wildcards and model allow-lists.
//   - OAuthServer is the http.Handler for /oauth2/token, /oauth2/introspect,
//     /oauth2/revoke, /.well-known/jwks.json and
//     /.well-known/oauth-authorization-server.
//   - SigningKeys holds the ES256 token-signing keys (encrypted at rest,
//     identified by kid, rotated without downtime); RevocationList shares
//     token revocations across replicas through the store.
//
// Errors: every authentication failure wraps ErrUnauthenticated and every
// authorization failure wraps ErrForbidden, each with a detail that names no
// secret. Transports render them (401 / 403); this package does not write
// responses outside its OAuth2 endpoints, which follow RFC 6749 §5.2.
//
// auth imports store (for record types and the interfaces it reads); it must
// not import config, server, httpapi or cli.
package auth

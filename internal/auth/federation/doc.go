// Package federation trusts identity providers dsgate does not run: a
// company IdP (Keycloak, Entra ID, Okta, Google, any OpenID Provider) or a
// Kubernetes cluster whose projected service-account tokens a pod sends.
// It verifies their JWTs and maps claims to a dsgate principal (role, team,
// model allow-list), so such callers go through the same RBAC, limits,
// budgets, audit and metrics as dsgate's own keys and clients.
//
// Signing keys are found by OpenID discovery (or a configured JWKS URL) and
// fetched, cached and refreshed by MicahParks/jwkset and keyfunc. On top of
// the library, two rules are ours: a token naming an unknown kid refreshes
// the set at most once per UnknownKIDInterval (a flood of made-up kids
// cannot hammer the IdP), and keys last fetched longer than MaxKeyAge ago
// stop verifying (an IdP outage is survived for a bounded time, then
// callers get a 503 naming the issuer).
//
// Federation implements auth.ExternalVerifier; auth.Chain routes a JWT here
// when its iss names a configured issuer. Issuer.Check is the doctor's
// probe. This package imports auth (and its family); nothing in auth
// imports it.
package federation

// Package websession keeps server-side sessions for people who use a
// browser: the web console and single sign-on. A session is a random
// 256-bit id in a cookie (__Host-dsgate_session: HttpOnly, Secure,
// SameSite=Strict, Path=/) that names a record in a Store; the record holds
// who signed in (principal, role, team), how (via), a per-session CSRF token
// and the two deadlines (idle and absolute).
//
// The id is rotated at every sign-in (Start never reuses the id the browser
// presented, and deletes that session), so a session id planted before
// sign-in is worthless after it. Stores keep only the SHA-256 of an id, so a
// dump of the store does not hand out live sessions.
//
// The package is a leaf: it knows nothing of API keys, OIDC or the console;
// callers decide who may sign in and what a role may see.
package websession

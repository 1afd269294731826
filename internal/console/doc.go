// Package console is the web console: server-rendered pages under
// /console/ where operators see traffic, upstreams, keys, usage, requests
// and the running configuration, and act on them from a browser.
//
// Pages are html/template (contextual escaping of every client-supplied
// string: model names, key names, request ids, audit fields), charts are
// SVG drawn by the server, and the only script is one embedded file for
// live refresh and copy buttons, allowed by a strict Content-Security-Policy
// (no inline script or style, default-src 'self', frame-ancestors 'none').
// Every page works without JavaScript.
//
// People sign in with an API key, exchanged for a websession session; what
// they see and may change follows their role through the same RBAC check
// as the admin API (an analyst sees only their own usage). Every change is
// a POST with the session's CSRF token. The pages call the same functions
// as the admin API (admin.CreateKey, admin.RevokeKey, admin.BuildReport,
// the store, the gateway's upstream status, audit.VerifyFiles); the console
// holds no logic of its own about keys, usage or the audit chain.
//
// Series, the in-process time series behind the overview, is the
// console's only cost on the request path: pipeline.Recorder feeds it one
// allocation-free update per request.
package console

// Package admin serves the control-plane API under /admin/: API keys,
// OAuth2 clients, roles and usage. Every route asks the Authorize function
// passed in (the transport's RBAC check, e.g. auth.Policy.Allow on the
// request's principal) for the route's resource and action before doing
// anything. The create/revoke operations are also exported as functions so
// the CLI performs them the same way.
//
// Responses are JSON; errors use OpenAI's {"error":{message,type,param,code}}.
// Secrets (API keys, client secrets) appear once, in the create response,
// and never in logs.
//
// admin imports auth (key and secret generation, role validation) and store;
// it must not import config, server, httpapi or cli.
package admin

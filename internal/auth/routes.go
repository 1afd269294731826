package auth

// RoutePermission maps an HTTP route to the resource and action that
// authorize it. Pattern uses net/http.ServeMux syntax.
type RoutePermission struct {
	Method   string
	Pattern  string
	Resource string
	Action   string
}

// Routes is the authorization table for every authenticated route; the
// transport looks a route up here (or uses the same pairs) before calling
// Policy.Allow. The RBAC matrix test walks it for every built-in role.
func Routes() []RoutePermission {
	return []RoutePermission{
		{"POST", "/v1/chat/completions", ResourceTextGeneration, ActionRead},
		{"POST", "/chat/completions", ResourceTextGeneration, ActionRead},
		{"POST", "/v1/completions", ResourceTextGeneration, ActionRead},
		{"POST", "/beta/completions", ResourceTextGeneration, ActionRead},
		{"POST", "/v1/embeddings", ResourceEmbeddings, ActionRead},
		{"GET", "/v1/models", ResourceModels, ActionRead},
		{"GET", "/models", ResourceModels, ActionRead},
		{"GET", "/v1/models/{model}", ResourceModels, ActionRead},
		{"POST", "/v1/batches", ResourceBatches, ActionCreate},
		{"GET", "/v1/batches", ResourceBatches, ActionRead},
		{"GET", "/v1/batches/{id}", ResourceBatches, ActionRead},
		{"POST", "/v1/batches/{id}/cancel", ResourceBatches, ActionUpdate},
		{"POST", "/v1/files", ResourceBatches, ActionCreate},
		{"GET", "/v1/files/{id}/content", ResourceBatches, ActionRead},
		{"GET", "/admin/cache", ResourceCache, ActionRead},
		{"DELETE", "/admin/cache", ResourceCache, ActionDelete},
		{"GET", "/admin/keys", ResourceAdminKeys, ActionRead},
		{"POST", "/admin/keys", ResourceAdminKeys, ActionCreate},
		{"GET", "/admin/keys/{id}", ResourceAdminKeys, ActionRead},
		{"DELETE", "/admin/keys/{id}", ResourceAdminKeys, ActionDelete},
		{"GET", "/admin/clients", ResourceAdminClients, ActionRead},
		{"POST", "/admin/clients", ResourceAdminClients, ActionCreate},
		{"GET", "/admin/clients/{id}", ResourceAdminClients, ActionRead},
		{"DELETE", "/admin/clients/{id}", ResourceAdminClients, ActionDelete},
		{"GET", "/admin/roles", ResourceAdminRoles, ActionRead},
		{"GET", "/admin/roles/{name}", ResourceAdminRoles, ActionRead},
		{"PUT", "/admin/roles/{name}", ResourceAdminRoles, ActionUpdate},
		{"DELETE", "/admin/roles/{name}", ResourceAdminRoles, ActionDelete},
		{"GET", "/admin/usage", ResourceAdminUsage, ActionRead},
		{"GET", "/admin/upstreams", ResourceAdminUpstreams, ActionRead},
		{"POST", "/admin/upstreams/{name}/drain", ResourceAdminUpstreams, ActionUpdate},
		{"GET", "/admin/audit", ResourceAudit, ActionRead},
	}
}

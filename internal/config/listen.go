package config

import (
	"net"
	"strings"
)

// validateAnonymous refuses a listener that other machines can reach
// while auth is off, unless auth.allow_anonymous says it is meant.
func (c *Config) validateAnonymous(add func(path, format string, args ...any)) {
	if c.Auth.Enabled || c.Auth.AllowAnonymous {
		return
	}
	listeners := []struct{ path, addr string }{
		{"server.listen", c.Server.Listen},
		{"grpc.listen", c.GRPC.Listen},
	}
	if !c.Metrics.Disabled {
		listeners = append(listeners, struct{ path, addr string }{"metrics.listen", c.Metrics.Listen})
	}
	for _, l := range listeners {
		if l.addr == "" || IsLoopback(l.addr) {
			continue
		}
		add(l.path, "%s is reachable from other machines and auth is off, so anyone who reaches it could use "+
			"every model (and spend the upstreams' keys); turn auth.enabled on, listen on 127.0.0.1, "+
			"or set auth.allow_anonymous: true if an anonymous gateway is really meant", l.addr)
	}
}

// IsLoopback reports whether a host:port listen address accepts only
// connections from this machine: localhost or a loopback IP. An empty
// host (":8080") listens on every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

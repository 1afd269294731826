package config

import (
	"cmp"
	"strings"
	"time"
)

// Console is the web console (docs/console.md): pages where operators see
// traffic, upstreams, keys, usage, requests and the running config, and
// act on them. Off by default.
type Console struct {
	// Enabled serves the console under /console/ on server.listen (or on
	// console.listen). It needs auth.enabled: people sign in with an API
	// key, and what they see follows its role.
	Enabled bool `yaml:"enabled"`
	// Listen serves the console on its own address (host:port) instead
	// of on server.listen; it uses server.tls when that is set.
	Listen string `yaml:"listen"`
	// SessionIdleTimeout ends a console session after this long without
	// a request. Default 30m.
	SessionIdleTimeout time.Duration `yaml:"session_idle_timeout"`
	// SessionAbsoluteTimeout ends a console session this long after
	// sign-in, however active. Default 12h.
	SessionAbsoluteTimeout time.Duration `yaml:"session_absolute_timeout"`
	// InsecureCookie drops the session cookie's Secure flag (and its
	// __Host- prefix), for a console reached over plain HTTP during
	// development. Allowed only when the console listens on a loopback
	// address.
	InsecureCookie bool `yaml:"insecure_cookie"`
}

func (c *Config) normalizeConsole() {
	k := &c.Console
	k.SessionIdleTimeout = cmp.Or(k.SessionIdleTimeout, 30*time.Minute)
	k.SessionAbsoluteTimeout = cmp.Or(k.SessionAbsoluteTimeout, 12*time.Hour)
}

func (c *Config) validateConsole(add func(path, format string, args ...any)) {
	k := c.Console
	if !k.Enabled {
		return
	}
	if !c.Auth.Enabled {
		add("console.enabled", "the console needs auth.enabled (people sign in with an API key)")
	}
	if k.SessionIdleTimeout < 0 || k.SessionAbsoluteTimeout < 0 {
		add("console", "session timeouts must not be negative")
	}
	if k.Listen != "" && k.Listen == c.Server.Listen && !strings.HasSuffix(k.Listen, ":0") {
		add("console.listen", "is server.listen; leave it empty to serve the console there")
	}
	if k.InsecureCookie && !IsLoopback(cmp.Or(k.Listen, c.Server.Listen)) {
		add("console.insecure_cookie", "allowed only on a loopback address; serve the console over TLS instead")
	}
}

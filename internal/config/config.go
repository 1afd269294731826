package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the whole configuration file.
type Config struct {
	// Version of the file format; must be 1.
	Version int `yaml:"version"`
	// Server is the HTTP listener.
	Server Server `yaml:"server"`
	// Log controls the process log and the access log.
	Log Log `yaml:"log"`
	// Upstreams are the engines and cloud APIs dsgate sends requests to.
	Upstreams []Upstream `yaml:"upstreams"`
	// Models are the public model names clients ask for, each served by one
	// or more upstream targets.
	Models []Model `yaml:"models"`
}

// Server configures the HTTP listener and request limits.
type Server struct {
	// Listen is the host:port to serve on. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// ReadHeaderTimeout bounds reading request headers. Default 10s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes idle keep-alive connections. Default 120s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds request headers. Default 64 KiB.
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxBodyBytes bounds a request body; larger bodies get 413. Default 8 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// RequestTimeout bounds a whole request, streams included. Default 10m.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// ShutdownGrace is how long in-flight requests and streams may run after
	// SIGTERM before they are cut. Default 30s.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Default info.
	Level string `yaml:"level"`
	// Format is json or text. Default json.
	Format string `yaml:"format"`
	// Access enables one structured log line per request. Default true.
	Access *bool `yaml:"access"`
}

// Upstream is one engine or cloud API.
type Upstream struct {
	// Name identifies the upstream in models, logs and metrics.
	Name string `yaml:"name"`
	// Kind is deepseek (DeepSeek's cloud API), openai (any OpenAI-compatible
	// engine: vLLM, SGLang, Ollama's /v1, llama.cpp server) or sim (the
	// built-in simulator, started in-process).
	Kind string `yaml:"kind"`
	// URL is the server root, e.g. https://api.deepseek.com or
	// http://vllm:8000 (without /v1). Not used for kind sim.
	URL string `yaml:"url"`
	// APIKey is sent as a bearer token. Only ${ENV} or file:/path references
	// are accepted, never a literal key.
	APIKey Secret `yaml:"api_key"`
	// Optional disables the upstream, instead of failing, when its api_key
	// reference resolves to nothing.
	Optional bool `yaml:"optional"`
	// ReasoningField is the name the upstream uses for chain-of-thought text:
	// reasoning_content (DeepSeek, SGLang, llama.cpp; default) or reasoning
	// (vLLM since late 2025, Ollama /v1). Clients always see
	// reasoning_content.
	ReasoningField string `yaml:"reasoning_field"`
	// MaxConcurrency caps in-flight requests to this upstream; 0 is no cap.
	MaxConcurrency int `yaml:"max_concurrency"`
	// ConnectTimeout bounds dialing. Default 5s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// FirstTokenTimeout bounds the wait for response headers and, for
	// streams, the first event. Keep-alive comments do not count. Default 120s.
	FirstTokenTimeout time.Duration `yaml:"first_token_timeout"`
	// IdleTimeout bounds the gap between two stream events; a stalled
	// stream is cut with an error event. Default 60s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// Sim configures the in-process simulator for kind sim.
	Sim Sim `yaml:"sim"`
}

// Sim configures an in-process simulator upstream.
type Sim struct {
	// TTFT is the simulated time to first token. Default 0.
	TTFT time.Duration `yaml:"ttft"`
	// TokensPerSecond paces generated tokens; 0 is unpaced.
	TokensPerSecond float64 `yaml:"tokens_per_second"`
	// Models the simulator serves. Default deepseek-chat, deepseek-reasoner.
	Models []string `yaml:"models"`
	// ReasoningField the simulator emits (reasoning_content or reasoning).
	ReasoningField string `yaml:"reasoning_field"`
}

// Model is a public model name and where it is served.
type Model struct {
	// Name is what clients put in "model".
	Name string `yaml:"name"`
	// OwnedBy is shown in /v1/models. Default dsgate.
	OwnedBy string `yaml:"owned_by"`
	// Thinking, when set, turns the upstream's thinking mode on or off for
	// requests that do not choose themselves.
	Thinking *bool `yaml:"thinking"`
	// Targets serve the model; lower priority tiers are tried first.
	Targets []Target `yaml:"targets"`
}

// Target is one upstream serving a model.
type Target struct {
	// Upstream names an entry of upstreams.
	Upstream string `yaml:"upstream"`
	// Model is the upstream's name for the model. Default: the public name.
	Model string `yaml:"model"`
	// Weight for weighted policies. Default 1.
	Weight int `yaml:"weight"`
	// Priority tier: 0 is primary; higher tiers are used only when no
	// target of a lower tier is available.
	Priority int `yaml:"priority"`
}

// Default returns the configuration used for every field a file leaves out.
func Default() *Config {
	return &Config{
		Version: 1,
		Server: Server{
			Listen:            "127.0.0.1:8080",
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       120 * time.Second,
			MaxHeaderBytes:    64 << 10,
			MaxBodyBytes:      8 << 20,
			RequestTimeout:    10 * time.Minute,
			ShutdownGrace:     30 * time.Second,
		},
		Log: Log{Level: "info", Format: "json"},
	}
}

// Load reads, decodes, resolves and validates the file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a configuration strictly over the defaults, fills derived
// values, resolves secret references and validates the result.
func Parse(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	c := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	c.normalize()
	if err := c.resolveSecrets(); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// normalize fills values derived from others.
func (c *Config) normalize() {
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		if u.ReasoningField == "" {
			u.ReasoningField = "reasoning_content"
		}
		if u.ConnectTimeout == 0 {
			u.ConnectTimeout = 5 * time.Second
		}
		if u.FirstTokenTimeout == 0 {
			u.FirstTokenTimeout = 120 * time.Second
		}
		if u.IdleTimeout == 0 {
			u.IdleTimeout = 60 * time.Second
		}
	}
	for i := range c.Models {
		m := &c.Models[i]
		if m.OwnedBy == "" {
			m.OwnedBy = "dsgate"
		}
		for j := range m.Targets {
			t := &m.Targets[j]
			if t.Model == "" {
				t.Model = m.Name
			}
			if t.Weight == 0 {
				t.Weight = 1
			}
		}
	}
}

// AccessLog reports whether access logging is on.
func (l Log) AccessLog() bool { return l.Access == nil || *l.Access }

// Enabled reports whether an upstream takes part in routing: an optional
// upstream whose key resolved to nothing is left out.
func (u Upstream) Enabled() bool { return !u.Optional || u.APIKey.Value() != "" }

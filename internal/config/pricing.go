package config

import (
	"fmt"
	"strings"

	"github.com/dsgate/dsgate/internal/pricing"
)

// Pricing is the price book section:
//
//	pricing:
//	  defaults_currency: CNY        # the shipped DeepSeek prices in CNY (default USD)
//	  models:
//	    - model: "*"                # every model of the local engine
//	      upstream: local-vllm
//	      internal: true            # amortised GPU cost, not a provider's bill
//	      currency: USD
//	      cache_hit: "0"
//	      cache_miss: "0.05"
//	      output: "0.10"
//
// The shipped DeepSeek prices apply only to upstreams of kind deepseek;
// a local engine or the simulator is priced only by entries written here.
type Pricing struct {
	// Disabled turns cost accounting off: no cost on requests, no budgets.
	Disabled bool `yaml:"disabled"`
	// Options are the price book (internal/pricing.Options), inline.
	pricing.Options `yaml:",inline"`
}

// Book compiles the price book; nil when pricing is disabled.
func (p Pricing) Book() (*pricing.Book, error) {
	if p.Disabled {
		return nil, nil
	}
	return pricing.New(p.Options)
}

// validatePricing compiles the book once to report its problems with
// their paths (pricing.models[2].windows[0].end).
func (c *Config) validatePricing(add func(path, format string, args ...any)) {
	if _, err := c.Pricing.Book(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			add("pricing", "%s", line)
		}
	}
	upstreams := map[string]bool{}
	for _, u := range c.Upstreams {
		upstreams[u.Name] = true
	}
	for i, m := range c.Pricing.Models {
		if m.Upstream != "" && !upstreams[m.Upstream] {
			add(fmt.Sprintf("pricing.models[%d].upstream", i), "names no upstream: %q", m.Upstream)
		}
	}
}

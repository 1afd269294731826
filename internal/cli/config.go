package cli

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/upstream"
)

// configWarnings lists what is valid but probably wrong: a deprecated
// value, or a deepseek target naming a model DeepSeek's API no longer
// accepts, or one it does not list. The gateway sends the successor
// instead (see gateway.requestFor), so the config keeps working, but it
// should say what is really served.
func configWarnings(c *config.Config) []string {
	out := deprecationWarnings(c)
	kinds := map[string]string{}
	for _, u := range c.Upstreams {
		kinds[u.Name] = u.Kind
	}
	for i, m := range c.Models {
		for j, t := range m.Targets {
			if kinds[t.Upstream] != upstream.KindDeepSeek {
				continue
			}
			rm, retired := upstream.RetiredDeepSeekModel(t.Model)
			if !retired {
				if !slices.Contains(upstream.CurrentDeepSeekModels, t.Model) {
					out = append(out, fmt.Sprintf("models[%d].targets[%d].model: %s is not a model DeepSeek's API lists "+
						"(%s); check the name", i, j, t.Model, strings.Join(upstream.CurrentDeepSeekModels, ", ")))
				}
				continue
			}
			mode := "disabled"
			if rm.Thinking {
				mode = "enabled"
			}
			out = append(out, fmt.Sprintf("models[%d].targets[%d].model: %s is retired by DeepSeek (its API answers 400 "+
				"since 2026-07-24); dsgate sends %s with thinking %s instead: write model: %s and thinking: %t on model %s",
				i, j, t.Model, rm.Successor, mode, rm.Successor, rm.Thinking, m.Name))
		}
	}
	return out
}

// deprecationWarnings names the values that still work under an old name.
func deprecationWarnings(c *config.Config) []string {
	var out []string
	if c.Audit.FullPolicy == config.AuditBlockNewDeprecated {
		out = append(out, fmt.Sprintf("audit.full_policy: %s is deprecated (it drops new records, it never blocks): write %s",
			config.AuditBlockNewDeprecated, config.AuditDropNew))
	}
	return out
}

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Check or print a config file"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a config file; exit non-zero with every problem listed",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := config.Load(args[0])
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
				return exitError{code: 1}
			}
			for _, w := range configWarnings(c) {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+w)
			}
			fmt.Fprintln(cmd.OutOrStdout(), args[0]+": ok")
			return nil
		},
	}, &cobra.Command{
		Use:   "print FILE",
		Short: "Print the effective config, defaults filled in, secrets shown as <secret>",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := config.Load(args[0])
			if err != nil {
				return err
			}
			enc := yaml.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent(2)
			defer enc.Close()
			return enc.Encode(effectiveConfig(c))
		},
	})
	return cmd
}

package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newEngineCmd is a placeholder until the command is built; it fails loudly.
func newEngineCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "engine",
		Short: "(not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("engine: not built yet")
		},
	}
}

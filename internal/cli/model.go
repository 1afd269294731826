package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newModelCmd is a placeholder until the command is built; it fails loudly.
func newModelCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "model",
		Short: "(not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("model: not built yet")
		},
	}
}

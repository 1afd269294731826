package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newKeysCmd is a placeholder until the command is built; it fails loudly.
func newKeysCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keys",
		Short: "(not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("keys: not built yet")
		},
	}
}

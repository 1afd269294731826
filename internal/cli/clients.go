package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newClientsCmd is a placeholder until the command is built; it fails loudly.
func newClientsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "clients",
		Short: "(not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("clients: not built yet")
		},
	}
}

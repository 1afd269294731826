package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newAuditCmd is a placeholder until the command is built; it fails loudly.
func newAuditCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "audit",
		Short: "(not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("audit: not built yet")
		},
	}
}

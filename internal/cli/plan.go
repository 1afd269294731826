package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newPlanCmd is a placeholder until the command is built; it fails loudly.
func newPlanCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "plan",
		Short: "(not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("plan: not built yet")
		},
	}
}

package cli

import (
	"errors"

	"github.com/spf13/cobra"
)

// newDoctorCmd is a placeholder until the command is built; it fails loudly.
func newDoctorCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "(not built yet)",
		RunE: func(*cobra.Command, []string) error {
			return errors.New("doctor: not built yet")
		},
	}
}

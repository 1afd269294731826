// Package cli holds dsgate's subcommands, one file per command. Each file
// exposes an unexported constructor newXCmd() *cobra.Command that root.go
// lists; there is no global command registry.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// exitError carries a specific process exit code out of a command.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Run executes the dsgate command line and returns the process exit code.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(stderr, "dsgate:", err)
	return 1
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "dsgate",
		Short:         "DeepSeek/OpenAI-compatible API gateway and operations toolkit",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		newVersionCmd(),
		newServeCmd(),
		newSimCmd(),
		newConfigCmd(),
		newPlanCmd(),
		newEngineCmd(),
		newDoctorCmd(),
		newModelCmd(),
		newAuditCmd(),
		newUsageCmd(),
		newKeysCmd(),
		newClientsCmd(),
		newInitCmd(),
		newTeamsCmd(),
		newBudgetsCmd(),
	)
	return root
}

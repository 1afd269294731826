package cli

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/spf13/cobra"

	"github.com/dsgate/dsgate/internal/audit"
)

// Exit codes of `dsgate audit verify`.
const (
	auditExitTampered   = 1 // the chain is broken
	auditExitUnreadable = 2 // a file could not be read
)

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Work with the audit trail",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	cmd.AddCommand(newAuditVerifyCmd())
	return cmd
}

func newAuditVerifyCmd() *cobra.Command {
	var (
		opts   audit.VerifyOptions
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "verify FILE...",
		Short: "Check the hash chain of audit JSON-lines files",
		Long: `Verify checks that audit files form one unbroken hash chain: every record's
hash matches its content, sequence numbers run without gaps or reordering, and
every prev_hash is the previous record's hash. Give rotated files oldest first
and the live file last (the glob audit*.jsonl sorts them so).

Exit status: 0 intact, 1 a problem was found (printed with file and line),
2 a file could not be read.`,
		Example: `  dsgate audit verify /var/log/dsgate/audit*.jsonl
  dsgate audit verify --partial --expect-head 3f5c... audit-00000000000000120001.jsonl audit.jsonl`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			for _, h := range []string{opts.Anchor, opts.ExpectHead} {
				if h != "" && !isHexHash(h) {
					return fmt.Errorf("audit verify: %q is not a 64-digit hex SHA-256", h)
				}
			}
			rep, err := audit.VerifyFiles(files, opts)
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "dsgate audit verify:", err)
				return exitError{code: auditExitUnreadable}
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return fmt.Errorf("audit verify: %w", err)
				}
			} else {
				printAuditReport(cmd, rep)
			}
			if !rep.OK {
				return exitError{code: auditExitTampered}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Anchor, "anchor", "", "expected prev_hash of the first record (default 64 zeros)")
	f.BoolVar(&opts.Partial, "partial", false, "accept a chain that starts mid-way (older rotated files were pruned)")
	f.StringVar(&opts.ExpectHead, "expect-head", "", "hash the last record must have (catches a truncated tail)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func printAuditReport(cmd *cobra.Command, rep audit.Report) {
	out := cmd.OutOrStdout()
	if rep.OK {
		fmt.Fprintf(out, "OK: %d records in %d files, seq %d..%d, head %s\n",
			rep.Records, rep.Files, rep.FirstSeq, rep.LastSeq, rep.Head)
		return
	}
	fmt.Fprintf(out, "FAIL: %s\n", rep.Problem)
	if rep.Records > 0 {
		fmt.Fprintf(out, "verified before it: %d records, seq %d..%d\n", rep.Records, rep.FirstSeq, rep.LastSeq)
	}
}

func isHexHash(s string) bool {
	return regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(s)
}

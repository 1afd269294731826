package cli

import (
	"cmp"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

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
	cmd.AddCommand(newAuditVerifyCmd(), newAuditKeygenCmd())
	return cmd
}

// newAuditKeygenCmd prints a new checkpoint signing key.
func newAuditKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Print a new Ed25519 key for signed audit checkpoints",
		Long: `Keygen prints a private key seed for audit.checkpoints.signing_key (keep it in a
secret the audit files' writers cannot read) and its public key, which
` + "`dsgate audit verify --checkpoint-key ID=PUBLIC`" + ` needs.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			seed, pub, err := audit.NewCheckpointSeed()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signing_key: %s\npublic_key:  %s\n", seed, pub)
			return nil
		},
	}
}

func newAuditVerifyCmd() *cobra.Command {
	var (
		opts   audit.VerifyOptions
		asJSON bool
		cpKeys []string
		cpFile string
	)
	cmd := &cobra.Command{
		Use:   "verify FILE...",
		Short: "Check the hash chain of audit JSON-lines files",
		Long: `Verify checks that audit files form one unbroken hash chain: every record's
hash matches its content, sequence numbers run without gaps or reordering, and
every prev_hash is the previous record's hash. Give rotated files oldest first
and the live file last (the glob audit*.jsonl sorts them so).

Without keys this proves only that the files are consistent: whoever can
write them can cut the tail or change a record and recompute every hash
after it, and the chain still verifies. With --checkpoint-key (the public
keys of audit.checkpoints, by key id) the signed checkpoints are checked
too: every checkpoint's signature and order, every record a checkpoint names
must have the signed hash (a recomputed chain fails), no checkpoint may name
a record past the end (a cut tail fails), and at most --max-unsigned records
may follow the last checkpoint (a running gateway signs every 1000 records
or 10s; a cleanly stopped one has signed its last record, so use 0 there).

Exit status: 0 intact, 1 a problem was found (printed with file and line),
2 a file could not be read.`,
		Example: `  dsgate audit verify /var/log/dsgate/audit*.jsonl
  dsgate audit verify --partial --expect-head 3f5c... audit-00000000000000120001.jsonl audit.jsonl
  dsgate audit verify --checkpoint-key 2026-12=MCow... --max-unsigned 0 /var/log/dsgate/audit*.jsonl`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			for _, h := range []string{opts.Anchor, opts.ExpectHead} {
				if h != "" && !isHexHash(h) {
					return fmt.Errorf("audit verify: %q is not a 64-digit hex SHA-256", h)
				}
			}
			if len(cpKeys) > 0 {
				if err := loadCheckpointKeys(&opts, cpKeys, cmp.Or(cpFile, filepath.Join(filepath.Dir(files[0]), "checkpoints.jsonl"))); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "dsgate audit verify:", err)
					return exitError{code: auditExitUnreadable}
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
	f.StringArrayVar(&cpKeys, "checkpoint-key", nil, "ID=PUBLIC_KEY (base64) of a checkpoint signing key; repeat for rotated keys; turns on checkpoint checks")
	f.StringVar(&cpFile, "checkpoints", "", "checkpoint file (default checkpoints.jsonl beside the first audit file)")
	f.IntVar(&opts.MaxUnsigned, "max-unsigned", 1000, "records allowed after the last signed checkpoint (0 for a stopped gateway; -1 any)")
	return cmd
}

// loadCheckpointKeys parses ID=KEY pairs and reads the checkpoint file.
func loadCheckpointKeys(opts *audit.VerifyOptions, pairs []string, path string) error {
	opts.CheckpointKeys = map[string]ed25519.PublicKey{}
	for _, p := range pairs {
		id, key, ok := strings.Cut(p, "=")
		if !ok || id == "" {
			return fmt.Errorf("--checkpoint-key %q: want ID=PUBLIC_KEY", p)
		}
		pub, err := audit.ParseCheckpointPublicKey(key)
		if err != nil {
			return fmt.Errorf("--checkpoint-key %s: %w", id, err)
		}
		opts.CheckpointKeys[id] = pub
	}
	cps, err := audit.ReadCheckpoints(path)
	if err != nil {
		return err
	}
	opts.Checkpoints = cps
	return nil
}

func printAuditReport(cmd *cobra.Command, rep audit.Report) {
	out := cmd.OutOrStdout()
	if rep.OK {
		fmt.Fprintf(out, "OK: %d records in %d files, seq %d..%d, head %s\n",
			rep.Records, rep.Files, rep.FirstSeq, rep.LastSeq, rep.Head)
		if rep.Checkpoints > 0 {
			fmt.Fprintf(out, "signed: %d checkpoints, up to seq %d; %d records after the last one\n",
				rep.Checkpoints, rep.SignedSeq, rep.Unsigned)
		}
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

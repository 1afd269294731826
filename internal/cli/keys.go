package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/auth"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/server"
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storeopen"
)

// storeFlags are --db and --config of the keys and clients commands.
type storeFlags struct {
	dsn     string
	cfgPath string
	cfg     *config.Config // loaded when --config is given
}

// dbFlag adds --db (default $DSGATE_DB): a SQLite file path or a
// postgres:// URL; and --config, whose store.dsn is used when --db is not
// given and whose auth.roles are accepted as roles.
func dbFlag(cmd *cobra.Command, f *storeFlags) {
	cmd.PersistentFlags().StringVar(&f.dsn, "db", os.Getenv("DSGATE_DB"),
		"control-plane store: SQLite file path or postgres:// URL (default $DSGATE_DB)")
	cmd.PersistentFlags().StringVarP(&f.cfgPath, "config", "c", "",
		"config file: its store.dsn is used when --db is not given, its auth.roles are known roles")
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error {
		if f.cfgPath == "" {
			return nil
		}
		c, err := config.Load(f.cfgPath)
		if err != nil {
			return err
		}
		f.cfg = c
		if f.dsn == "" {
			f.dsn = c.Store.DSN
		}
		return nil
	}
}

func openStore(ctx context.Context, dsn string) (store.Store, error) {
	if dsn == "" {
		return nil, fmt.Errorf("--db is required (or set DSGATE_DB)")
	}
	return storeopen.Open(ctx, dsn)
}

// policy knows the roles serve knows: built-in, stored, and auth.roles of
// the --config file, through the same server.LoadPolicy.
func (f *storeFlags) policy(ctx context.Context, st store.RoleStore) (*auth.Policy, error) {
	var roles []config.Role
	if f.cfg != nil {
		roles = f.cfg.Auth.Roles
	}
	return server.LoadPolicy(ctx, roles, st)
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func newKeysCmd() *cobra.Command {
	var flags storeFlags
	cmd := &cobra.Command{Use: "keys", Short: "Create, list and revoke API keys"}
	dbFlag(cmd, &flags)

	var req admin.KeyRequest
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API key and print it once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := openStore(ctx, flags.dsn)
			if err != nil {
				return err
			}
			defer st.Close()
			pol, err := flags.policy(ctx, st)
			if err != nil {
				return err
			}
			// The operator at the console (nil caller) may grant any role.
			v, err := admin.CreateKey(ctx, st, req, time.Now(), pol, nil)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "id:      %s\nrole:    %s\nexpires: %s\nkey:     %s\n", v.ID, v.Role, fmtTime(v.ExpiresAt), v.Key)
			fmt.Fprintln(cmd.ErrOrStderr(), "Store the key now: it is kept only as a hash and cannot be shown again.")
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&req.Name, "name", "", "human-readable name (required)")
	f.StringVar(&req.Role, "role", "", "role: analyst, developer, admin, a role in the store or in --config's auth.roles (required)")
	f.StringSliceVar(&req.Models, "models", nil, "model allow-list, patterns like deepseek-* (default: the role decides)")
	f.Int64Var(&req.RPM, "rpm", 0, "requests per minute (0: default)")
	f.Int64Var(&req.TPM, "tpm", 0, "tokens per minute (0: default)")
	f.Int64Var(&req.MaxConcurrent, "max-concurrent", 0, "concurrent requests (0: default)")
	f.StringVar(&req.ExpiresIn, "expires", "", "lifetime such as 90d or 12h (default: never)")

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List API keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := openStore(ctx, flags.dsn)
			if err != nil {
				return err
			}
			defer st.Close()
			keys, err := st.ListKeys(ctx)
			if err != nil {
				return err
			}
			views := make([]admin.KeyView, 0, len(keys))
			for _, k := range keys {
				views = append(views, admin.ViewKey(k))
			}
			return printViews(cmd.OutOrStdout(), asJSON, views, "ID\tNAME\tROLE\tRPM\tTPM\tCREATED\tEXPIRES\tREVOKED",
				func(v admin.KeyView) string {
					return fmt.Sprintf("%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s", v.ID, v.Name, v.Role, v.RPM, v.TPM,
						v.CreatedAt.Format(time.RFC3339), fmtTime(v.ExpiresAt), fmtTime(v.RevokedAt))
				})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key (replicas stop accepting it within their cache TTL, 1s by default)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := openStore(ctx, flags.dsn)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.RevokeKey(ctx, args[0], time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke, newKeysGenerateCmd())
	return cmd
}

// newKeysGenerateCmd prints a fresh API key without storing it: the value
// for auth.bootstrap_admin_key (put it in a Secret or an environment
// variable; serve imports it as the first admin key).
func newKeysGenerateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "generate",
		Short: "Print a new API key without storing it (for auth.bootstrap_admin_key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			full, _, _, err := auth.NewAPIKey()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), full)
			return nil
		},
	}
}

// printViews prints records as indented JSON or as a table with header
// and one tab-separated row each.
func printViews[T any](w io.Writer, asJSON bool, views []T, header string, row func(T) string) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(views)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, v := range views {
		fmt.Fprintln(tw, row(v))
	}
	return tw.Flush()
}

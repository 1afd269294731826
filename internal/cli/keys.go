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
	"github.com/dsgate/dsgate/internal/store"
	"github.com/dsgate/dsgate/internal/store/storeopen"
)

// dbFlag adds --db (default $DSGATE_DB): a SQLite file path or a
// postgres:// URL; or --config, whose store.dsn is used when --db is not
// given.
func dbFlag(cmd *cobra.Command, dsn *string) {
	var cfgPath string
	cmd.PersistentFlags().StringVar(dsn, "db", os.Getenv("DSGATE_DB"),
		"control-plane store: SQLite file path or postgres:// URL (default $DSGATE_DB)")
	cmd.PersistentFlags().StringVarP(&cfgPath, "config", "c", "", "take the store from this config file's store.dsn")
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error {
		if *dsn != "" || cfgPath == "" {
			return nil
		}
		c, err := config.Load(cfgPath)
		if err != nil {
			return err
		}
		*dsn = c.Store.DSN
		return nil
	}
}

func openStore(ctx context.Context, dsn string) (store.Store, error) {
	if dsn == "" {
		return nil, fmt.Errorf("--db is required (or set DSGATE_DB)")
	}
	return storeopen.Open(ctx, dsn)
}

// roleChecker accepts built-in roles and roles in the store.
func roleChecker(ctx context.Context, st store.RoleStore) (func(string) bool, error) {
	pol, err := auth.NewPolicy(nil)
	if err != nil {
		return nil, err
	}
	roles, err := st.ListRoles(ctx)
	if err != nil {
		return nil, err
	}
	if err := pol.SetStoreRoles(roles); err != nil {
		return nil, err
	}
	return pol.HasRole, nil
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

func newKeysCmd() *cobra.Command {
	var dsn string
	cmd := &cobra.Command{Use: "keys", Short: "Create, list and revoke API keys"}
	dbFlag(cmd, &dsn)

	var req admin.KeyRequest
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API key and print it once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := openStore(ctx, dsn)
			if err != nil {
				return err
			}
			defer st.Close()
			hasRole, err := roleChecker(ctx, st)
			if err != nil {
				return err
			}
			v, err := admin.CreateKey(ctx, st, req, time.Now(), hasRole)
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
	f.StringVar(&req.Role, "role", "", "role: analyst, developer, admin or a role defined in the store (required)")
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
			st, err := openStore(ctx, dsn)
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
			st, err := openStore(ctx, dsn)
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
	cmd.AddCommand(create, list, revoke)
	return cmd
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

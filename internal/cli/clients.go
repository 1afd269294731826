package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/auth"
)

func newClientsCmd() *cobra.Command {
	var flags storeFlags
	cmd := &cobra.Command{Use: "clients", Short: "Create, list and revoke OAuth2 clients (client credentials grant)"}
	dbFlag(cmd, &flags)

	var req admin.ClientRequest
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an OAuth2 client and print its secret once",
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
			v, err := admin.CreateClient(ctx, st, req, time.Now(), pol, nil, auth.DefaultArgon2)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "client_id:     %s\nrole:          %s\nscopes:        %s\nclient_secret: %s\n",
				v.ID, v.Role, strings.Join(v.Scopes, " "), v.Secret)
			fmt.Fprintln(cmd.ErrOrStderr(), "Store the secret now: it is kept only as an argon2id hash and cannot be shown again.")
			return nil
		},
	}
	f := create.Flags()
	f.StringVar(&req.Name, "name", "", "human-readable name (required)")
	f.StringVar(&req.Role, "role", "", "role: analyst, developer, admin, a role in the store or in --config's auth.roles (required)")
	f.StringSliceVar(&req.Scopes, "scopes", nil, "scopes the client may request")
	f.StringSliceVar(&req.Models, "models", nil, "model allow-list, patterns like deepseek-* (default: the role decides)")
	f.Int64Var(&req.RPM, "rpm", 0, "requests per minute (0: default)")
	f.Int64Var(&req.TPM, "tpm", 0, "tokens per minute (0: default)")
	f.Int64Var(&req.MaxConcurrent, "max-concurrent", 0, "concurrent requests (0: default)")

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List OAuth2 clients (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := openStore(ctx, flags.dsn)
			if err != nil {
				return err
			}
			defer st.Close()
			cs, err := st.ListClients(ctx)
			if err != nil {
				return err
			}
			views := make([]admin.ClientView, 0, len(cs))
			for _, c := range cs {
				views = append(views, admin.ViewClient(c))
			}
			return printViews(cmd.OutOrStdout(), asJSON, views, "CLIENT_ID\tNAME\tROLE\tSCOPES\tCREATED\tREVOKED",
				func(v admin.ClientView) string {
					return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", v.ID, v.Name, v.Role, strings.Join(v.Scopes, " "),
						v.CreatedAt.Format(time.RFC3339), fmtTime(v.RevokedAt))
				})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	revoke := &cobra.Command{
		Use:   "revoke CLIENT_ID",
		Short: "Revoke a client; its tokens stop working within the client cache TTL (1s by default)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := openStore(ctx, flags.dsn)
			if err != nil {
				return err
			}
			defer st.Close()
			if err := st.RevokeClient(ctx, args[0], time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

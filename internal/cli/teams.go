package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/store"
)

// openTeams opens the store as a TeamStore.
func openTeams(ctx context.Context, dsn string) (store.Store, store.TeamStore, error) {
	st, err := openStore(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	ts, ok := st.(store.TeamStore)
	if !ok {
		st.Close()
		return nil, nil, fmt.Errorf("this store does not keep teams")
	}
	return st, ts, nil
}

// memberArg reads key:<id> or client:<id>.
func memberArg(s string) (store.PrincipalKind, string, error) {
	kind, id, ok := strings.Cut(s, ":")
	if !ok || id == "" || (kind != string(store.KindKey) && kind != string(store.KindClient)) {
		return "", "", fmt.Errorf("member %q must be key:<id> or client:<id>", s)
	}
	return store.PrincipalKind(kind), id, nil
}

func newTeamsCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{Use: "teams", Short: "Manage teams: their members, model allow-list and limits"}
	dbFlag(cmd, &sf)
	// Replicas reread teams every 10 s; the admin API applies a change at
	// once on the replica that served it.
	withStore := func(fn func(ctx context.Context, ts store.TeamStore, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			st, ts, err := openTeams(cmd.Context(), sf.dsn)
			if err != nil {
				return err
			}
			defer st.Close()
			return fn(cmd.Context(), ts, cmd, args)
		}
	}

	var req admin.TeamRequest
	put := &cobra.Command{
		Use:   "put NAME",
		Short: "Create a team or replace its allow-list and limits",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(ctx context.Context, ts store.TeamStore, cmd *cobra.Command, args []string) error {
			t := store.Team{Name: args[0], Models: req.Models, RPM: req.RPM, TPM: req.TPM, MaxConcurrent: req.MaxConcurrent, UpdatedAt: time.Now()}
			if err := admin.ValidateTeam(t); err != nil {
				return err
			}
			if err := ts.PutTeam(ctx, t); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "team %s written\n", t.Name)
			return nil
		}),
	}
	f := put.Flags()
	f.StringSliceVar(&req.Models, "models", nil, "models the team's members may use (default: no team restriction)")
	f.Int64Var(&req.RPM, "rpm", 0, "requests per minute for the whole team (0: none)")
	f.Int64Var(&req.TPM, "tpm", 0, "tokens per minute for the whole team (0: none)")
	f.Int64Var(&req.MaxConcurrent, "max-concurrent", 0, "concurrent requests for the whole team (0: none)")

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List teams with their members",
		Args:  cobra.NoArgs,
		RunE: withStore(func(ctx context.Context, ts store.TeamStore, cmd *cobra.Command, _ []string) error {
			teams, err := ts.ListTeams(ctx)
			if err != nil {
				return err
			}
			members, err := ts.ListTeamMembers(ctx)
			if err != nil {
				return err
			}
			views := make([]admin.TeamView, 0, len(teams))
			for _, t := range teams {
				v := admin.TeamView{Team: t, Members: []store.TeamMember{}}
				for _, m := range members {
					if m.Team == t.Name {
						v.Members = append(v.Members, m)
					}
				}
				views = append(views, v)
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(views)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TEAM\tMODELS\tRPM\tTPM\tCONCURRENT\tMEMBERS")
			for _, v := range views {
				var ms []string
				for _, m := range v.Members {
					ms = append(ms, string(m.Kind)+":"+m.PrincipalID)
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", v.Name, orAll(v.Models), v.RPM, v.TPM, v.MaxConcurrent, strings.Join(ms, ","))
			}
			return tw.Flush()
		}),
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	del := &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a team (its members leave it)",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(ctx context.Context, ts store.TeamStore, cmd *cobra.Command, args []string) error {
			return ts.DeleteTeam(ctx, args[0])
		}),
	}
	add := &cobra.Command{
		Use:   "add NAME key:<id>|client:<id>...",
		Short: "Put keys or clients in a team (moving them from any other)",
		Args:  cobra.MinimumNArgs(2),
		RunE: withStore(func(ctx context.Context, ts store.TeamStore, cmd *cobra.Command, args []string) error {
			for _, a := range args[1:] {
				kind, id, err := memberArg(a)
				if err != nil {
					return err
				}
				if err := ts.SetTeamMember(ctx, kind, id, args[0]); err != nil {
					return err
				}
			}
			return nil
		}),
	}
	remove := &cobra.Command{
		Use:   "remove key:<id>|client:<id>...",
		Short: "Take keys or clients out of their team",
		Args:  cobra.MinimumNArgs(1),
		RunE: withStore(func(ctx context.Context, ts store.TeamStore, cmd *cobra.Command, args []string) error {
			for _, a := range args {
				kind, id, err := memberArg(a)
				if err != nil {
					return err
				}
				if err := ts.SetTeamMember(ctx, kind, id, ""); err != nil {
					return err
				}
			}
			return nil
		}),
	}
	cmd.AddCommand(put, list, del, add, remove)
	return cmd
}

func orAll(models []string) string {
	if len(models) == 0 {
		return "*"
	}
	return strings.Join(models, ",")
}

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dsgate/dsgate/internal/admin"
	"github.com/dsgate/dsgate/internal/config"
	"github.com/dsgate/dsgate/internal/store"
)

// newBudgetsCmd manages the budgets kept in the store, on top of the
// config file's budgets.rules (an entry of the same subject, period and
// currency replaces the file's). Running replicas pick a change up within
// 10 s; the admin API (PUT /admin/budgets/...) applies it at once on the
// replica that served it.
func newBudgetsCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{Use: "budgets", Short: "Manage budgets kept in the store, beside the config file's"}
	dbFlag(cmd, &sf)
	withStore := func(fn func(ctx context.Context, cs store.CostOverrideStore, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			st, err := openStore(cmd.Context(), sf.dsn)
			if err != nil {
				return err
			}
			defer st.Close()
			cs, ok := st.(store.CostOverrideStore)
			if !ok {
				return fmt.Errorf("this store does not keep budgets")
			}
			return fn(cmd.Context(), cs, cmd, args)
		}
	}

	var soft float64
	put := &cobra.Command{
		Use:   "put SUBJECT PERIOD AMOUNT CURRENCY",
		Short: "Set a budget: key:<id>|client:<id>|team:<name>, day|week|month, an amount such as 12.50, USD|CNY",
		Args:  cobra.ExactArgs(4),
		RunE: withStore(func(ctx context.Context, cs store.CostOverrideStore, cmd *cobra.Command, args []string) error {
			b := admin.BudgetEntry{Subject: args[0], Period: args[1], Amount: args[2], Currency: args[3], Soft: soft}
			rule := config.BudgetRule{Subject: b.Subject, Period: b.Period, Amount: b.Amount, Currency: b.Currency, Soft: b.Soft}
			if _, err := (config.Budgets{Rules: []config.BudgetRule{rule}}).Compile(); err != nil {
				return err
			}
			body, _ := json.Marshal(b)
			if err := cs.PutCostOverride(ctx, store.CostOverride{Kind: store.OverrideBudget, Name: b.Name(), Body: string(body),
				UpdatedBy: "cli", UpdatedAt: time.Now()}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "budget %s written\n", b.Name())
			return nil
		}),
	}
	put.Flags().Float64Var(&soft, "soft", 0, "fraction of the amount from which answers carry a warning (default 0.8; 1: none)")

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the budgets kept in the store (the config file's are in budgets.rules)",
		Args:  cobra.NoArgs,
		RunE: withStore(func(ctx context.Context, cs store.CostOverrideStore, cmd *cobra.Command, _ []string) error {
			over, err := admin.LoadCostOverrides(ctx, cs)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if over.Budgets == nil {
					over.Budgets = []admin.BudgetEntry{}
				}
				return enc.Encode(over.Budgets)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SUBJECT\tPERIOD\tAMOUNT\tCURRENCY\tSOFT")
			for _, b := range over.Budgets {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%g\n", b.Subject, b.Period, b.Amount, b.Currency, b.Soft)
			}
			return tw.Flush()
		}),
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	del := &cobra.Command{
		Use:   "delete SUBJECT PERIOD CURRENCY",
		Short: "Remove a budget kept in the store (the config file's rule, if any, applies again)",
		Args:  cobra.ExactArgs(3),
		RunE: withStore(func(ctx context.Context, cs store.CostOverrideStore, cmd *cobra.Command, args []string) error {
			return cs.DeleteCostOverride(ctx, store.OverrideBudget, args[0]+"/"+args[1]+"/"+args[2])
		}),
	}
	cmd.AddCommand(put, list, del)
	return cmd
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/workflow"
)

// retention applies the tenants' retention policies now (ADR 0030), or with dryRun
// lists what they would do, changing nothing: one line per submission with its id, what
// happens to it, its state and how long it has been idle; never a title or a text.
// The daily job does the same; this runs it at once, for one tenant or all.
func retention(ctx context.Context, cfg *Config, log *slog.Logger, tenantSlug string, dryRun bool, stdout io.Writer) error {
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	run := workflow.RetentionRun{DryRun: dryRun, By: "command"}
	var reports []*workflow.RetentionReport
	if tenantSlug != "" {
		id, err := auth.TenantIDBySlug(ctx, a.db, tenantSlug)
		if apperr.KindOf(err) == apperr.KindNotFound {
			return fmt.Errorf("--tenant: no tenant %q", tenantSlug)
		}
		if err != nil {
			return err
		}
		r, rerr := a.wf.Retain(ctx, id, run)
		if r != nil {
			reports = append(reports, r)
		}
		err = rerr
		printRetention(stdout, reports)
		return err
	}
	reports, err = a.wf.RetainAll(ctx, run)
	printRetention(stdout, reports)
	return err
}

// printRetention prints, per tenant, its policy and what was (or would be) done.
func printRetention(w io.Writer, reports []*workflow.RetentionReport) {
	for _, r := range reports {
		fmt.Fprintf(w, "tenant %s: %s\n", r.TenantSlug, policyText(r.Policy))
		if len(r.Items) > 0 {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  ACTION\tSTATE\tSUBMISSION\tLAST CHANGE\tIDLE\tFILES\tNOTE")
			for _, it := range r.Items {
				note := ""
				if it.DeleteAt != nil {
					note = "deleted on or after " + it.DeleteAt.UTC().Format(time.DateOnly)
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d days\t%s\t%s\n", it.Action, it.State, it.SubmissionID,
					it.LastChange.UTC().Format(time.DateOnly), it.IdleDays, filesText(r, it), note)
			}
			tw.Flush()
		}
		switch {
		case r.Policy.Never():
		case r.DryRun:
			fmt.Fprintf(w, "  dry run, nothing changed: would warn %d, delete %d, shred %d\n",
				r.Count(workflow.RetentionWarn), r.Count(workflow.RetentionDelete), r.Count(workflow.RetentionShred))
		default:
			fmt.Fprintf(w, "  warned %d, deleted %d (%d drafts, %d withdrawn or rejected), shredded %d, files deleted %d\n",
				r.Warned, r.DraftsDeleted+r.ClosedDeleted, r.DraftsDeleted, r.ClosedDeleted, r.Shredded, r.FilesDeleted)
			if r.Failed > 0 {
				fmt.Fprintf(w, "  %d failed (see the log); they are due again at the next run\n", r.Failed)
			}
		}
		if r.More {
			fmt.Fprintln(w, "  more are due than one run takes; the next run goes on")
		}
	}
}

// filesText is an item's evidence count: known once done; a dry run does not count.
func filesText(r *workflow.RetentionReport, it workflow.RetentionItem) string {
	if r.DryRun || it.Action == workflow.RetentionWarn {
		return "-"
	}
	return fmt.Sprint(it.Files)
}

// policyText says a policy in words.
func policyText(p workflow.RetentionSettings) string {
	if p.Never() {
		return "no retention policy (nothing is deleted)"
	}
	after := func(n int, unit string) string {
		if n == 0 {
			return "never"
		}
		return fmt.Sprintf("after %d %s", n, unit)
	}
	return strings.Join([]string{
		"drafts deleted " + after(p.DraftDays, "days"),
		"withdrawn and rejected deleted " + after(p.ClosedDays, "days"),
		"dispatched shredded " + after(p.DispatchedYears, "years"),
	}, "; ")
}

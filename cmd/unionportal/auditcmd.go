package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/auth"
)

// errChainBroken makes the process exit 1 after the report has been printed.
var errChainBroken = errors.New("the audit trail has been tampered with")

// auditVerify checks every chain (or one tenant's) and prints one line per chain.
func auditVerify(ctx context.Context, cfg *Config, log *slog.Logger, tenantSlug string, stdout io.Writer) error {
	db, err := openDatabase(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := migrateDB(ctx, db, log); err != nil {
		return err
	}
	type chain struct{ id, name string }
	var chains []chain
	if tenantSlug != "" {
		id, err := auth.TenantIDBySlug(ctx, db, tenantSlug)
		if apperr.KindOf(err) == apperr.KindNotFound {
			return fmt.Errorf("--tenant: no tenant %q", tenantSlug)
		}
		if err != nil {
			return err
		}
		chains = []chain{{id, "tenant " + tenantSlug}}
	} else {
		ids, err := audit.Chains(ctx, db)
		if err != nil {
			return err
		}
		for _, id := range ids {
			name := "platform"
			if id != audit.PlatformChain {
				slug, err := auth.TenantSlug(ctx, db, id)
				switch {
				case apperr.KindOf(err) == apperr.KindNotFound:
					slug = "(deleted) " + id
				case err != nil:
					return err
				}
				name = "tenant " + slug
			}
			chains = append(chains, chain{id, name})
		}
	}
	broken := false
	for _, c := range chains {
		b, n, err := audit.Verify(ctx, db, c.id)
		if err != nil {
			return err
		}
		if b != nil {
			broken = true
			fmt.Fprintf(stdout, "%s: BROKEN after %d intact events: %s\n", c.name, n, b.Reason)
			fmt.Fprintf(stdout, "  first broken link: sequence number %d, row id %d\n", b.Seq, b.EventID)
			continue
		}
		fmt.Fprintf(stdout, "%s: %d events, chain intact\n", c.name, n)
	}
	if broken {
		return errChainBroken
	}
	return nil
}

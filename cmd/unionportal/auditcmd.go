package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/unionportal/unionportal/audit"
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
		var id string
		if err := db.Conn(ctx).Raw("SELECT id FROM tenants WHERE slug = ?", tenantSlug).Scan(&id).Error; err != nil {
			return err
		}
		if id == "" {
			return fmt.Errorf("--tenant: no tenant %q", tenantSlug)
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
				var slug string
				db.Conn(ctx).Raw("SELECT slug FROM tenants WHERE id = ?", id).Scan(&slug)
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

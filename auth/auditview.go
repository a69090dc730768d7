package auth

import (
	"context"

	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/database"
)

// AuditEvents is one page of the tenant's audit view, newest first: its own chain, and
// the account events of its members (audit.AccountActions). Tenant admins and
// superadmins only.
func (s *Service) AuditEvents(ctx context.Context, a *TenantAccess, f audit.Filter, p database.Page) ([]audit.Event, string, error) {
	if err := a.Require(PermAuditRead); err != nil {
		return nil, "", err
	}
	return audit.List(ctx, s.db, s.auditFilter(a, f), p)
}

// AuditExport prepares a file of at most n events of the tenant's audit view after the
// cursor after (AuditEvents' view).
func (s *Service) AuditExport(ctx context.Context, a *TenantAccess, f audit.Filter, after []string, n int) (*audit.Export, error) {
	if err := a.Require(PermAuditRead); err != nil {
		return nil, err
	}
	return audit.NewExport(ctx, s.db, s.auditFilter(a, f), after, n)
}

// auditFilter narrows f to the caller's tenant and gives it the tenant's members, from
// when they joined, whose account events the view shows while they are members.
func (s *Service) auditFilter(a *TenantAccess, f audit.Filter) audit.Filter {
	f.TenantID = a.Tenant.ID
	f.Members = &audit.Subquery{SQL: "SELECT user_id, created_at AS since FROM memberships WHERE tenant_id = ? AND active",
		Args: []any{a.Tenant.ID}}
	return f
}

package auth

import (
	"context"
	"time"
)

// MembershipView is one tenant the user belongs to, as /me shows it.
type MembershipView struct {
	Tenant       TenantRef       `json:"tenant"`
	Organization OrganizationRef `json:"organization"`
	Roles        []string        `json:"roles" enum:"role"`
}

// TenantRef names a tenant.
type TenantRef struct {
	ID   string `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// OrganizationRef names an organization.
type OrganizationRef struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Country string `json:"country"`
	Kind    string `json:"kind" enum:"organization_kind"`
}

// Memberships lists the principal's active memberships with their roles, by tenant slug.
func (s *Service) Memberships(ctx context.Context, p *Principal) ([]MembershipView, error) {
	var rows []struct {
		TenantID, TenantSlug, TenantName    string
		OrgID, OrgName, OrgCountry, OrgKind string
		CreatedAt                           time.Time
		PolicyVersion                       int64
	}
	err := s.db.Conn(ctx).Table("memberships").
		Select("tenants.id AS tenant_id, tenants.slug AS tenant_slug, tenants.name AS tenant_name, "+
			"organizations.id AS org_id, organizations.name AS org_name, organizations.country AS org_country, organizations.kind AS org_kind, "+
			PolicyVersionColumn).
		Joins("JOIN tenants ON tenants.id = memberships.tenant_id").
		Joins("JOIN organizations ON organizations.id = memberships.organization_id").
		Where("memberships.user_id = ? AND memberships.active", p.User.ID).
		Order("tenants.slug").Find(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) > 0 {
		if err := s.authz.AtLeast(ctx, rows[0].PolicyVersion); err != nil {
			return nil, err
		}
	}
	out := make([]MembershipView, 0, len(rows))
	for _, r := range rows {
		roles := s.authz.RolesOf(p.User.ID, r.TenantID)
		if roles == nil {
			roles = []string{}
		}
		out = append(out, MembershipView{
			Tenant:       TenantRef{ID: r.TenantID, Slug: r.TenantSlug, Name: r.TenantName},
			Organization: OrganizationRef{ID: r.OrgID, Name: r.OrgName, Country: r.OrgCountry, Kind: r.OrgKind},
			Roles:        roles,
		})
	}
	return out, nil
}

package auth

import (
	"context"
	"time"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
)

// The tenants table is auth's. Other packages reach the parts of it they use through
// these functions, in the transaction ctx carries.

// TenantSlug returns a tenant's slug, for links.
func TenantSlug(ctx context.Context, db *database.DB, tenantID string) (string, error) {
	var slugs []string
	if err := db.Conn(ctx).Model(&Tenant{}).Where("id = ?", tenantID).Pluck("slug", &slugs).Error; err != nil {
		return "", err
	}
	if len(slugs) == 0 {
		return "", apperr.NotFound("tenant")
	}
	return slugs[0], nil
}

// TenantSettings returns a tenant's settings document as stored ("{}" when never set).
// Its meaning is the workflow package's; auth only keeps it with the tenant.
func TenantSettings(ctx context.Context, db *database.DB, tenantID string) (string, error) {
	var raw []string
	if err := db.Conn(ctx).Table("tenants").Where("id = ?", tenantID).Pluck("settings", &raw).Error; err != nil {
		return "", err
	}
	if len(raw) == 0 {
		return "", apperr.NotFound("tenant")
	}
	return raw[0], nil
}

// SetTenantSettings replaces a tenant's settings document.
func SetTenantSettings(ctx context.Context, db *database.DB, tenantID, raw string, at time.Time) error {
	res := db.Conn(ctx).Table("tenants").Where("id = ?", tenantID).Updates(map[string]any{"settings": raw, "updated_at": at})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return apperr.NotFound("tenant")
	}
	return nil
}

// AllTenants lists every tenant (id, slug and name), by slug, for work done across
// tenants for no user (retention).
func AllTenants(ctx context.Context, db *database.DB) ([]Tenant, error) {
	var out []Tenant
	err := db.Conn(ctx).Model(&Tenant{}).Order("slug").Find(&out).Error
	return out, err
}

// TenantIDBySlug returns the id of the tenant with slug; not_found when there is none.
func TenantIDBySlug(ctx context.Context, db *database.DB, slug string) (string, error) {
	var ids []string
	if err := db.Conn(ctx).Model(&Tenant{}).Where("slug = ?", slug).Pluck("id", &ids).Error; err != nil {
		return "", err
	}
	if len(ids) == 0 {
		return "", apperr.NotFound("tenant")
	}
	return ids[0], nil
}

// Empty reports whether the platform has no tenant and no user yet (a first run).
func Empty(ctx context.Context, db *database.DB) (bool, error) {
	var n int64
	err := db.Conn(ctx).Raw("SELECT (SELECT count(*) FROM tenants) + (SELECT count(*) FROM users)").Find(&n).Error
	return n == 0, err
}

// MayReadOriginal reports whether the caller belongs to the organization of userID
// in the tenant, or to the tenant's secretariat: those who may see an evidence file as
// userID uploaded it, identifying metadata included.
func MayReadOriginal(ctx context.Context, db *database.DB, a *TenantAccess, userID string) (bool, error) {
	if a.Membership == nil || !a.Membership.Active {
		return false, nil
	}
	var n int64
	err := db.Conn(ctx).Table("organizations o").
		Where("o.id = ? AND o.tenant_id = ?", a.Membership.OrganizationID, a.Tenant.ID).
		Where("o.kind = ? OR EXISTS (SELECT 1 FROM memberships m WHERE m.tenant_id = o.tenant_id AND m.user_id = ? AND m.organization_id = o.id)",
			KindSecretariat, userID).
		Count(&n).Error
	return n > 0, err
}

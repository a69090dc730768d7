package auth

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
)

// UserInput creates a user in a tenant. Password may be empty only when the e-mail
// belongs to an existing user of the platform, who is then added to the tenant.
type UserInput struct {
	Email          string   `json:"email"`
	Name           string   `json:"name"`
	Password       string   `json:"password"`
	OrganizationID string   `json:"organization_id"`
	Roles          []string `json:"roles" enum:"role"`
}

// UserPatch changes a member: nil fields are left alone.
type UserPatch struct {
	OrganizationID *string   `json:"organization_id"`
	Roles          *[]string `json:"roles" enum:"role"`
	Active         *bool     `json:"active"`
}

// Member is a user as seen by a tenant admin: the user, their organization and roles in
// this tenant, and whether their membership is active.
type Member struct {
	ID             string    `json:"id"`
	Email          string    `json:"email"`
	Name           string    `json:"name"`
	OrganizationID string    `json:"organization_id"`
	Roles          []string  `json:"roles" gorm:"-" enum:"role"`
	Active         bool      `json:"active"`
	CreatedAt      time.Time `json:"created_at"`
}

func checkRoles(roles []string, fields []apperr.FieldError) []apperr.FieldError {
	if len(roles) == 0 {
		return append(fields, apperr.FieldError{Field: "roles", Message: "at least one of tenant_admin, reviewer, signatory, editor, viewer"})
	}
	seen := map[string]bool{}
	for _, r := range roles {
		if !slices.Contains(Roles(), r) {
			return append(fields, apperr.FieldError{Field: "roles", Message: "unknown role " + quote(r) + "; expected tenant_admin, reviewer, signatory, editor or viewer"})
		}
		if seen[r] {
			return append(fields, apperr.FieldError{Field: "roles", Message: "role " + r + " given twice"})
		}
		seen[r] = true
	}
	return fields
}

func quote(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return `"` + strings.ToValidUTF8(s, "") + `"`
}

// CreateUser adds a user to the tenant in one organization with roles, at once: a
// superadmin's act (and the demo's). A new e-mail needs a password; an existing account
// joins with its own. Tenant admins invite instead (InviteUser), so that nobody is put
// into a tenant without consent.
func (s *Service) CreateUser(ctx context.Context, a *TenantAccess, in UserInput) (*Member, error) {
	if !a.Principal.User.IsSuperadmin {
		return nil, errForbiddenPlatform()
	}
	if err := a.Require(PermUserManage); err != nil {
		return nil, err
	}
	if err := s.checkUserInput(ctx, a, &in); err != nil {
		return nil, err
	}
	var hash string
	if in.Password != "" {
		var err error
		if hash, err = s.hashPassword(ctx, in.Password); err != nil {
			return nil, err
		}
	}
	now := s.now()
	var member *Member
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var u User
		err := s.db.Conn(ctx).Where("email = ?", in.Email).First(&u).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			if in.Password == "" {
				return apperr.Invalid("the user is invalid", apperr.FieldError{Field: "password", Message: "required for a new user, at least 12 characters"})
			}
			u = User{ID: newID(), Email: in.Email, Name: in.Name, PasswordHash: hash, Active: true, CreatedAt: now, UpdatedAt: now}
			if err := s.db.Conn(ctx).Create(&u).Error; err != nil {
				return duplicate(err, "email", "a user with this e-mail exists")
			}
		case err != nil:
			return err
		case in.Password != "":
			// An existing account keeps its own password; nobody else may set it.
			return &apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeDuplicate, Message: "a user with this e-mail exists; leave out the password to add them to this tenant",
				Fields: []apperr.FieldError{{Field: "email", Message: "a user with this e-mail exists"}}}
		}
		m := Membership{ID: newID(), UserID: u.ID, TenantID: a.Tenant.ID, OrganizationID: in.OrganizationID, Active: true, CreatedAt: now, UpdatedAt: now}
		if err := s.db.Conn(ctx).Create(&m).Error; err != nil {
			return duplicate(err, "email", "this user is already a member of the tenant")
		}
		if err := s.authz.setRoles(ctx, u.ID, a.Tenant.ID, in.Roles); err != nil {
			return err
		}
		member = &Member{ID: u.ID, Email: u.Email, Name: u.Name, OrganizationID: m.OrganizationID, Roles: in.Roles, Active: true, CreatedAt: u.CreatedAt}
		return s.recordEvent(ctx, a.Tenant.ID, a.Actor(), "user.created", "user", u.ID,
			map[string]any{"email": u.Email, "organization_id": m.OrganizationID, "roles": in.Roles})
	})
	if err != nil {
		return nil, err
	}
	return member, s.authz.Refresh(ctx)
}

// ListUsers lists the tenant's members by e-mail, with their roles.
func (s *Service) ListUsers(ctx context.Context, a *TenantAccess, page database.Page) ([]Member, string, error) {
	if err := a.Require(PermUserRead); err != nil {
		return nil, "", err
	}
	q := a.TenantScope().Apply(s.db.Conn(ctx).Table("memberships"), "memberships", false).
		Joins("JOIN users ON users.id = memberships.user_id").
		Select("users.id, users.email, users.name, memberships.organization_id, memberships.active, users.created_at")
	if len(page.After) == 1 {
		q = q.Where("users.email > ?", page.After[0])
	}
	var rows []Member
	if err := q.Order("users.email").Limit(page.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	items, next := database.Trim(rows, page, func(m Member) []string { return []string{m.Email} })
	for i := range items {
		items[i].Roles = s.authz.RolesOf(items[i].ID, a.Tenant.ID)
		if items[i].Roles == nil {
			items[i].Roles = []string{}
		}
	}
	return items, next, nil
}

// member loads userID's membership in the tenant; a user of another tenant answers 404.
func (s *Service) member(ctx context.Context, a *TenantAccess, userID string) (*Membership, *User, error) {
	if !database.ValidID(userID) {
		return nil, nil, apperr.NotFound("user")
	}
	var m Membership
	if err := a.TenantScope().Apply(s.db.Conn(ctx), "memberships", false).Where("user_id = ?", userID).First(&m).Error; err != nil {
		return nil, nil, notFound(err, "user")
	}
	var u User
	if err := s.db.Conn(ctx).Where("id = ?", userID).First(&u).Error; err != nil {
		return nil, nil, notFound(err, "user")
	}
	return &m, &u, nil
}

// UpdateUser changes a member's organization, roles or active state. The change holds
// from the next request, in every portal process (the policy version moves, and the
// membership is read on every request); the user's sessions and tokens are not ended,
// since they may serve other tenants: they simply lose what this change took away.
func (s *Service) UpdateUser(ctx context.Context, a *TenantAccess, userID string, patch UserPatch) (*Member, error) {
	if err := a.Require(PermUserManage); err != nil {
		return nil, err
	}
	m, u, err := s.member(ctx, a, userID)
	if err != nil {
		return nil, err
	}
	if err := s.checkPatch(ctx, a, m, patch); err != nil {
		return nil, err
	}
	var oldRoles, newRoles []string
	var active bool
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		// The tenant is locked first, so that two changes that each leave one tenant
		// admin cannot both pass the check; the membership and roles are then read again.
		if err := s.lockTenant(ctx, a.Tenant.ID); err != nil {
			return err
		}
		if err := s.db.Conn(ctx).Where("id = ?", m.ID).First(m).Error; err != nil {
			return err
		}
		var err error
		if oldRoles, err = s.authz.storedRoles(ctx, userID, a.Tenant.ID); err != nil {
			return err
		}
		newRoles = oldRoles
		if patch.Roles != nil {
			newRoles = *patch.Roles
		}
		active = m.Active
		if patch.Active != nil {
			active = *patch.Active
		}
		if !active {
			newRoles = nil
		}
		if err := s.keepOneTenantAdmin(ctx, a.Tenant.ID, userID, newRoles); err != nil {
			return err
		}
		updates := map[string]any{"active": active, "updated_at": s.now()}
		if patch.OrganizationID != nil {
			updates["organization_id"] = *patch.OrganizationID
		}
		if err := s.db.Conn(ctx).Model(&Membership{}).Where("id = ?", m.ID).Updates(updates).Error; err != nil {
			return err
		}
		if err := s.authz.setRoles(ctx, userID, a.Tenant.ID, newRoles); err != nil {
			return err
		}
		action := "user.updated"
		if !active && m.Active {
			action = "user.deactivated"
		}
		return s.recordEvent(ctx, a.Tenant.ID, a.Actor(), action, "user", userID, map[string]any{
			"roles_before": oldRoles, "roles": newRoles, "active": active, "organization_id": updates["organization_id"]})
	})
	if err != nil {
		return nil, err
	}
	if err := s.authz.Refresh(ctx); err != nil {
		return nil, err
	}
	return patchedMember(u, m, patch, newRoles, active), nil
}

// checkPatch names every bad field of a change to member m.
func (s *Service) checkPatch(ctx context.Context, a *TenantAccess, m *Membership, patch UserPatch) error {
	var fields []apperr.FieldError
	if patch.Roles != nil {
		fields = checkRoles(*patch.Roles, fields)
	}
	if patch.Active != nil && *patch.Active && !m.Active && patch.Roles == nil {
		fields = append(fields, apperr.FieldError{Field: "roles", Message: "give the roles of a member who is reactivated"})
	}
	if patch.OrganizationID != nil && !database.ValidID(*patch.OrganizationID) {
		fields = append(fields, apperr.FieldError{Field: "organization_id", Message: "expected the id of an organization of this tenant"})
	}
	if len(fields) > 0 {
		return apperr.Invalid("the change is invalid", fields...)
	}
	if patch.OrganizationID != nil {
		if _, err := s.organization(ctx, a.TenantScope(), *patch.OrganizationID); err != nil {
			return apperr.Invalid("the change is invalid", apperr.FieldError{Field: "organization_id", Message: "no such organization in this tenant"})
		}
	}
	return nil
}

// patchedMember is the member as the change left it.
func patchedMember(u *User, m *Membership, patch UserPatch, newRoles []string, active bool) *Member {
	org := m.OrganizationID
	if patch.OrganizationID != nil {
		org = *patch.OrganizationID
	}
	if newRoles == nil {
		newRoles = []string{}
	}
	return &Member{ID: u.ID, Email: u.Email, Name: u.Name, OrganizationID: org, Roles: newRoles, Active: active, CreatedAt: u.CreatedAt}
}

// DeactivateUser ends a user's membership of the tenant (the record stays, for the
// audit trail): their roles there go, and with them their access to the tenant, by
// session or token alike; their other tenants are not affected.
func (s *Service) DeactivateUser(ctx context.Context, a *TenantAccess, userID string) error {
	inactive := false
	_, err := s.UpdateUser(ctx, a, userID, UserPatch{Active: &inactive})
	return err
}

// keepOneTenantAdmin refuses a change that would leave the tenant without an active
// tenant admin, which only a superadmin could repair. It reads the database in the
// transaction carried by ctx, which must hold the tenant's lock (lockTenant).
func (s *Service) keepOneTenantAdmin(ctx context.Context, tenantID, userID string, newRoles []string) error {
	if slices.Contains(newRoles, RoleTenantAdmin) {
		return nil
	}
	var admins []string
	err := s.db.Conn(ctx).Table("memberships").
		Joins("JOIN casbin_rule ON casbin_rule.ptype = 'g' AND casbin_rule.v0 = "+s.db.AsText("memberships.user_id")+
			" AND casbin_rule.v1 = ? AND casbin_rule.v2 = "+s.db.AsText("memberships.tenant_id"), RoleTenantAdmin).
		Where("memberships.tenant_id = ? AND memberships.active", tenantID).Pluck("memberships.user_id", &admins).Error
	if err != nil {
		return err
	}
	if slices.Contains(admins, userID) && len(admins) == 1 {
		return &apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeLastTenantAdmin, Message: "this is the tenant's last tenant admin; make someone else tenant admin first"}
	}
	return nil
}

// lockTenant serialises changes to the tenant's memberships and roles until the
// transaction carried by ctx ends. PostgreSQL locks the tenant's row; SQLite's write
// transactions (BEGIN IMMEDIATE) already run one at a time.
func (s *Service) lockTenant(ctx context.Context, tenantID string) error {
	if !s.db.InTx(ctx) {
		panic("auth: lockTenant outside a transaction")
	}
	if s.db.Dialect() != database.Postgres {
		return nil
	}
	var id string
	return s.db.Conn(ctx).Raw("SELECT id FROM tenants WHERE id = ? FOR UPDATE", tenantID).Row().Scan(&id)
}

// CreateSuperadmin creates a platform superadmin, or makes an existing user one and
// sets their password. It is for the command line, not the API.
func (s *Service) CreateSuperadmin(ctx context.Context, email, name, password string) (*User, error) {
	email = NormalizeEmail(email)
	var fields []apperr.FieldError
	if !validEmail(email) {
		fields = append(fields, apperr.FieldError{Field: "email", Message: "expected an e-mail address"})
	}
	if fe := validatePassword("password", password, email, name); fe != nil {
		fields = append(fields, *fe)
	}
	if len(fields) > 0 {
		return nil, apperr.Invalid("the superadmin is invalid", fields...)
	}
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var u User
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		err := s.db.Conn(ctx).Where("email = ?", email).First(&u).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			u = User{ID: newID(), Email: email, Name: name, PasswordHash: hash, IsSuperadmin: true, Active: true, CreatedAt: now, UpdatedAt: now}
			if err := s.db.Conn(ctx).Create(&u).Error; err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			u.PasswordHash, u.IsSuperadmin, u.Active, u.UpdatedAt = hash, true, true, now
			if err := s.db.Conn(ctx).Model(&User{}).Where("id = ?", u.ID).
				Updates(map[string]any{"password_hash": hash, "is_superadmin": true, "active": true, "updated_at": now}).Error; err != nil {
				return err
			}
			if err := s.endSessions(ctx, u.ID); err != nil {
				return err
			}
		}
		return s.recordEvent(ctx, "", Actor{IP: "cli"}, "superadmin.created", "user", u.ID, map[string]any{"email": email})
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// checkUserInput normalizes in and checks every field of it, naming each bad one: the
// e-mail, the name, the password when given, the organization (of this tenant) and the
// roles.
func (s *Service) checkUserInput(ctx context.Context, a *TenantAccess, in *UserInput) error {
	in.Email = NormalizeEmail(in.Email)
	in.Name = strings.TrimSpace(in.Name)
	var fields []apperr.FieldError
	if !validEmail(in.Email) {
		fields = append(fields, apperr.FieldError{Field: "email", Message: "expected an e-mail address such as name@union.org"})
	}
	fields = checkName("name", in.Name, fields)
	if in.Password != "" {
		if fe := validatePassword("password", in.Password, in.Email, in.Name); fe != nil {
			fields = append(fields, *fe)
		}
	}
	if !database.ValidID(in.OrganizationID) {
		fields = append(fields, apperr.FieldError{Field: "organization_id", Message: "expected the id of an organization of this tenant"})
	}
	fields = checkRoles(in.Roles, fields)
	if len(fields) > 0 {
		return apperr.Invalid("the user is invalid", fields...)
	}
	if _, err := s.organization(ctx, a.TenantScope(), in.OrganizationID); err != nil {
		return apperr.Invalid("the user is invalid", apperr.FieldError{Field: "organization_id", Message: "no such organization in this tenant"})
	}
	return nil
}

package auth

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
)

// InvitationTTL is how long an invitation may be accepted.
const InvitationTTL = 14 * 24 * time.Hour

// Invitation states.
const (
	InvitationPending  = "pending"
	InvitationAccepted = "accepted"
	InvitationDeclined = "declined"
	InvitationRevoked  = "revoked"
	InvitationExpired  = "expired"
)

// Invitation asks the person with an e-mail address to join a tenant in one
// organization with roles. It is what a tenant admin sees: it never says whether the
// address has an account on the platform.
type Invitation struct {
	ID             string     `json:"id"`
	TenantID       string     `json:"-"`
	Email          string     `json:"email"`
	Name           string     `json:"name"`
	OrganizationID string     `json:"organization_id"`
	Roles          []string   `json:"roles" gorm:"serializer:json" enum:"role"`
	InvitedBy      *string    `json:"-"`
	CreatedUserID  *string    `json:"-"`
	Status         string     `json:"status"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	DecidedAt      *time.Time `json:"decided_at"`
}

// view reports an unanswered invitation past its time as expired.
func (inv Invitation) view(now time.Time) Invitation {
	if inv.Status == InvitationPending && !now.Before(inv.ExpiresAt) {
		inv.Status = InvitationExpired
	}
	if inv.Roles == nil {
		inv.Roles = []string{}
	}
	return inv
}

// InviteUser invites an e-mail address into the tenant, as a tenant admin adds a
// member. The answer is the same whether or not the address has an account, so that
// no tenant learns who uses the platform: the person accepts from their account, and
// an address without an account gets one with the given password (which is why it is
// always required), accepted at its first login. An existing account's password and
// name are never changed. A superadmin adds members directly with CreateUser.
func (s *Service) InviteUser(ctx context.Context, a *TenantAccess, in UserInput) (*Invitation, error) {
	if err := a.Require(PermUserManage); err != nil {
		return nil, err
	}
	if err := s.checkUserInput(ctx, a, &in); err != nil {
		return nil, err
	}
	// Members of this tenant are visible to its admins anyway: saying so reveals nothing.
	var members int64
	err := a.TenantScope().Apply(s.db.Conn(ctx).Table("memberships"), "memberships", false).
		Joins("JOIN users ON users.id = memberships.user_id").Where("users.email = ?", in.Email).Count(&members).Error
	if err != nil {
		return nil, err
	}
	if members > 0 {
		return nil, duplicate(gorm.ErrDuplicatedKey, "email", "this person is already a member of the tenant")
	}
	if in.Password == "" {
		return nil, apperr.Invalid("the user is invalid", apperr.FieldError{Field: "password",
			Message: "required: the initial password, used only if this e-mail has no account yet (at least 12 characters)"})
	}
	// Hashed whether or not it is used, so that the answer takes as long either way.
	hash, err := s.hashPassword(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	now := s.now()
	inv := Invitation{ID: newID(), TenantID: a.Tenant.ID, Email: in.Email, Name: in.Name, OrganizationID: in.OrganizationID,
		Roles: in.Roles, Status: InvitationPending, CreatedAt: now, ExpiresAt: now.Add(InvitationTTL)}
	if database.ValidID(a.Principal.User.ID) {
		inv.InvitedBy = &a.Principal.User.ID
	}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		conn := s.db.Conn(ctx)
		if err := conn.Model(&Invitation{}).Where("tenant_id = ? AND email = ? AND status = ? AND expires_at <= ?",
			a.Tenant.ID, in.Email, InvitationPending, now).Updates(map[string]any{"status": InvitationExpired, "decided_at": now}).Error; err != nil {
			return err
		}
		var u User
		err := conn.Where("email = ?", in.Email).First(&u).Error
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound):
			u = User{ID: newID(), Email: in.Email, Name: in.Name, PasswordHash: hash, Active: true, CreatedAt: now, UpdatedAt: now}
			if err := conn.Create(&u).Error; err != nil {
				return err
			}
			inv.CreatedUserID = &u.ID
			// On the platform's chain, which tenants do not see.
			if err := s.recordEvent(ctx, "", a.Actor(), "account.created", "user", u.ID,
				map[string]any{"email": u.Email, "invitation_id": inv.ID}); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		if err := conn.Create(&inv).Error; err != nil {
			return duplicate(err, "email", "this e-mail is already invited to the tenant; revoke that invitation first")
		}
		return s.recordEvent(ctx, a.Tenant.ID, a.Actor(), "user.invited", "invitation", inv.ID,
			map[string]any{"email": inv.Email, "organization_id": inv.OrganizationID, "roles": inv.Roles})
	})
	if err != nil {
		return nil, err
	}
	v := inv.view(now)
	return &v, nil
}

// ListInvitations lists the tenant's invitations, newest first.
func (s *Service) ListInvitations(ctx context.Context, a *TenantAccess, page database.Page) ([]Invitation, string, error) {
	if err := a.Require(PermUserRead); err != nil {
		return nil, "", err
	}
	q := a.TenantScope().Apply(s.db.Conn(ctx).Model(&Invitation{}), "invitations", false)
	if len(page.After) == 2 {
		after, err := time.Parse(time.RFC3339Nano, page.After[0])
		if err != nil || !database.ValidID(page.After[1]) {
			return nil, "", apperr.Malformed("invalid cursor", apperr.FieldError{Field: "cursor", Message: "not a cursor this list returned"})
		}
		q = q.Where("(created_at < ? OR (created_at = ? AND id < ?))", after, after, page.After[1])
	}
	var rows []Invitation
	if err := q.Order("created_at DESC, id DESC").Limit(page.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	items, next := database.Trim(rows, page, func(inv Invitation) []string {
		return []string{inv.CreatedAt.UTC().Format(time.RFC3339Nano), inv.ID}
	})
	now := s.now()
	for i := range items {
		items[i] = items[i].view(now)
	}
	return items, next, nil
}

// RevokeInvitation withdraws a pending invitation of the tenant.
func (s *Service) RevokeInvitation(ctx context.Context, a *TenantAccess, id string) error {
	if err := a.Require(PermUserManage); err != nil {
		return err
	}
	if !database.ValidID(id) {
		return apperr.NotFound("invitation")
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		var inv Invitation
		if err := a.TenantScope().Apply(s.db.Conn(ctx), "invitations", false).Where("id = ?", id).First(&inv).Error; err != nil {
			return notFound(err, "invitation")
		}
		if inv.view(s.now()).Status != InvitationPending {
			return &apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeInvitationNotPending, Message: "the invitation was already " + inv.view(s.now()).Status}
		}
		if err := s.db.Conn(ctx).Model(&Invitation{}).Where("id = ?", id).
			Updates(map[string]any{"status": InvitationRevoked, "decided_at": s.now()}).Error; err != nil {
			return err
		}
		return s.recordEvent(ctx, a.Tenant.ID, a.Actor(), "invitation.revoked", "invitation", id, map[string]any{"email": inv.Email})
	})
}

// MyInvitation is an invitation as the invited person sees it.
type MyInvitation struct {
	ID           string          `json:"id"`
	Tenant       TenantRef       `json:"tenant"`
	Organization OrganizationRef `json:"organization"`
	Roles        []string        `json:"roles" enum:"role"`
	CreatedAt    time.Time       `json:"created_at"`
	ExpiresAt    time.Time       `json:"expires_at"`
}

// MyInvitations lists the pending invitations to the principal's e-mail address.
func (s *Service) MyInvitations(ctx context.Context, p *Principal) ([]MyInvitation, error) {
	var rows []struct {
		Invitation Invitation `gorm:"embedded"`
		TenantSlug string
		TenantName string
		OrgName    string
		OrgCountry string
		OrgKind    string
	}
	err := s.db.Conn(ctx).Table("invitations").
		Select("invitations.*, tenants.slug AS tenant_slug, tenants.name AS tenant_name, "+
			"organizations.name AS org_name, organizations.country AS org_country, organizations.kind AS org_kind").
		Joins("JOIN tenants ON tenants.id = invitations.tenant_id").
		Joins("JOIN organizations ON organizations.id = invitations.organization_id").
		Where("invitations.email = ? AND invitations.status = ? AND invitations.expires_at > ?", p.User.Email, InvitationPending, s.now()).
		Order("invitations.created_at, invitations.id").Find(&rows).Error
	if err != nil {
		return nil, err
	}
	out := make([]MyInvitation, 0, len(rows))
	for _, r := range rows {
		inv := r.Invitation.view(s.now())
		out = append(out, MyInvitation{ID: inv.ID, Roles: inv.Roles, CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt,
			Tenant:       TenantRef{ID: inv.TenantID, Slug: r.TenantSlug, Name: r.TenantName},
			Organization: OrganizationRef{ID: inv.OrganizationID, Name: r.OrgName, Country: r.OrgCountry, Kind: r.OrgKind}})
	}
	return out, nil
}

// AcceptInvitation makes the principal a member of the inviting tenant, in the
// invitation's organization and roles (a former member's membership is reactivated).
// Only the person, at a browser, may accept.
func (s *Service) AcceptInvitation(ctx context.Context, p *Principal, id string) error {
	return s.decideInvitation(ctx, p, id, true)
}

// DeclineInvitation refuses an invitation.
func (s *Service) DeclineInvitation(ctx context.Context, p *Principal, id string) error {
	return s.decideInvitation(ctx, p, id, false)
}

func (s *Service) decideInvitation(ctx context.Context, p *Principal, id string, accept bool) error {
	if p.Via != ViaSession {
		return errSessionRequired
	}
	if !database.ValidID(id) {
		return apperr.NotFound("invitation")
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var inv Invitation
		err := s.db.Conn(ctx).Where("id = ? AND email = ? AND status = ?", id, p.User.Email, InvitationPending).First(&inv).Error
		if err != nil {
			return notFound(err, "invitation")
		}
		if inv.view(s.now()).Status != InvitationPending {
			return &apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeInvitationExpired, Message: "the invitation has expired; ask for a new one"}
		}
		if !accept {
			if err := s.db.Conn(ctx).Model(&Invitation{}).Where("id = ?", id).
				Updates(map[string]any{"status": InvitationDeclined, "decided_at": s.now()}).Error; err != nil {
				return err
			}
			return s.recordEvent(ctx, inv.TenantID, p.Actor(), "invitation.declined", "invitation", inv.ID, nil)
		}
		return s.acceptInvitation(ctx, p.Actor(), p.User.ID, &inv)
	})
	if err != nil || !accept {
		return err
	}
	return s.authz.Refresh(ctx)
}

// acceptInvitation adds userID to the invitation's tenant in the transaction carried by
// ctx. The caller refreshes the authorizer after commit.
func (s *Service) acceptInvitation(ctx context.Context, actor Actor, userID string, inv *Invitation) error {
	if err := s.lockTenant(ctx, inv.TenantID); err != nil {
		return err
	}
	now := s.now()
	conn := s.db.Conn(ctx)
	var m Membership
	err := conn.Where("user_id = ? AND tenant_id = ?", userID, inv.TenantID).First(&m).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		m = Membership{ID: newID(), UserID: userID, TenantID: inv.TenantID, OrganizationID: inv.OrganizationID, Active: true, CreatedAt: now, UpdatedAt: now}
		if err := conn.Create(&m).Error; err != nil {
			return err
		}
	case err != nil:
		return err
	case m.Active:
		return &apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeAlreadyMember, Message: "you are already a member of this tenant"}
	default:
		if err := conn.Model(&Membership{}).Where("id = ?", m.ID).
			Updates(map[string]any{"active": true, "organization_id": inv.OrganizationID, "updated_at": now}).Error; err != nil {
			return err
		}
	}
	if err := s.authz.setRoles(ctx, userID, inv.TenantID, inv.Roles); err != nil {
		return err
	}
	if err := conn.Model(&Invitation{}).Where("id = ?", inv.ID).
		Updates(map[string]any{"status": InvitationAccepted, "decided_at": now}).Error; err != nil {
		return err
	}
	return s.recordEvent(ctx, inv.TenantID, actor, "invitation.accepted", "invitation", inv.ID,
		map[string]any{"user_id": userID, "organization_id": inv.OrganizationID, "roles": inv.Roles})
}

// acceptOwnInvitations accepts, at an account's login, the pending invitations that
// created it: logging in with the password its inviter gave is the consent. It runs in
// the login's transaction and reports whether any was accepted.
func (s *Service) acceptOwnInvitations(ctx context.Context, actor Actor, userID string) (bool, error) {
	var invs []Invitation
	if err := s.db.Conn(ctx).Where("created_user_id = ? AND status = ? AND expires_at > ?", userID, InvitationPending, s.now()).
		Order("created_at").Find(&invs).Error; err != nil {
		return false, err
	}
	for i := range invs {
		if err := s.acceptInvitation(ctx, actor, userID, &invs[i]); err != nil {
			return false, err
		}
	}
	return len(invs) > 0, nil
}

// Invitation returns one invitation of the tenant.
func (s *Service) Invitation(ctx context.Context, a *TenantAccess, id string) (*Invitation, error) {
	if err := a.Require(PermUserRead); err != nil {
		return nil, err
	}
	if !database.ValidID(id) {
		return nil, apperr.NotFound("invitation")
	}
	var inv Invitation
	if err := a.TenantScope().Apply(s.db.Conn(ctx), "invitations", false).Where("id = ?", id).First(&inv).Error; err != nil {
		return nil, notFound(err, "invitation")
	}
	inv = inv.view(s.now())
	return &inv, nil
}

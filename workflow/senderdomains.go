package workflow

import (
	"context"
	"errors"
	"strings"
	"time"

	"golang.org/x/net/idna"
	"gorm.io/gorm"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
)

// SenderDomain is a mail domain the platform verified for a tenant: its letters may go
// out from, and ask for replies at, addresses of this domain only. The superadmin
// registers a domain after checking that the federation controls it (and that its SPF
// and DKIM records allow the platform's relay to send for it).
type SenderDomain struct {
	TenantID  string    `json:"-"`
	Domain    string    `json:"domain"`
	CreatedAt time.Time `json:"created_at"`
}

// TableName is the table the sender domains live in.
func (SenderDomain) TableName() string { return "sender_domains" }

// NormalizeDomain returns a domain in the form stored and compared: lower case, ASCII
// (internationalized names as punycode), without a trailing dot. It refuses what is not
// a host name of at least two labels.
func NormalizeDomain(d string) (string, bool) {
	d = strings.TrimSuffix(strings.TrimSpace(d), ".")
	if d == "" || len(d) > 253 {
		return "", false
	}
	ascii, err := idna.Registration.ToASCII(strings.ToLower(d))
	if err != nil || !strings.Contains(ascii, ".") {
		return "", false
	}
	for _, label := range strings.Split(ascii, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' ||
			strings.IndexFunc(label, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') }) >= 0 {
			return "", false
		}
	}
	return ascii, true
}

// domainOf is the normalized domain of an e-mail address ("" when it has none).
func domainOf(address string) string {
	i := strings.LastIndexByte(address, '@')
	if i < 0 {
		return ""
	}
	d, _ := NormalizeDomain(address[i+1:])
	return d
}

// SenderDomains lists the tenant's verified sender domains, by name.
func (s *Service) SenderDomains(ctx context.Context, a *auth.TenantAccess) ([]SenderDomain, error) {
	out := []SenderDomain{}
	err := s.db.Conn(ctx).Where("tenant_id = ?", a.Tenant.ID).Order("domain").Find(&out).Error
	return out, err
}

// AddSenderDomain registers a verified sender domain for the tenant (superadmins only).
func (s *Service) AddSenderDomain(ctx context.Context, a *auth.TenantAccess, domain string) (*SenderDomain, error) {
	if !a.Principal.User.IsSuperadmin {
		return nil, &apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeForbidden, Message: "only a platform superadmin may verify sender domains"}
	}
	d, ok := NormalizeDomain(domain)
	if !ok {
		return nil, apperr.Invalid("the domain is invalid", apperr.FieldError{Field: "domain", Message: "expected a mail domain such as industriall-union.org"})
	}
	sd := SenderDomain{TenantID: a.Tenant.ID, Domain: d, CreatedAt: s.now()}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := s.db.Conn(ctx).Create(&sd).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return &apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeSenderDomainExists, Message: "this domain is already verified for the tenant"}
			}
			return err
		}
		return s.event(ctx, a, "sender_domain.added", "tenant", a.Tenant.ID, map[string]any{"domain": d})
	})
	if err != nil {
		return nil, err
	}
	return &sd, nil
}

// RemoveSenderDomain withdraws a verified sender domain (superadmins only). Settings
// that use it stay as they are, but no submission can be approved until the sender is
// at a verified domain again; what was approved before keeps its snapshot.
func (s *Service) RemoveSenderDomain(ctx context.Context, a *auth.TenantAccess, domain string) error {
	if !a.Principal.User.IsSuperadmin {
		return &apperr.Error{Kind: apperr.KindForbidden, Code: apperr.CodeForbidden, Message: "only a platform superadmin may withdraw sender domains"}
	}
	d, ok := NormalizeDomain(domain)
	if !ok {
		return apperr.NotFound("sender domain")
	}
	return s.db.WithTx(ctx, func(ctx context.Context) error {
		res := s.db.Conn(ctx).Where("tenant_id = ? AND domain = ?", a.Tenant.ID, d).Delete(&SenderDomain{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return apperr.NotFound("sender domain")
		}
		return s.event(ctx, a, "sender_domain.removed", "tenant", a.Tenant.ID, map[string]any{"domain": d})
	})
}

// unverifiedSenders names the sender fields of d whose address is at a domain not
// verified for the tenant.
func (s *Service) unverifiedSenders(ctx context.Context, tenantID string, d *DispatchSettings) ([]apperr.FieldError, error) {
	var domains []string
	if err := s.db.Conn(ctx).Model(&SenderDomain{}).Where("tenant_id = ?", tenantID).Pluck("domain", &domains).Error; err != nil {
		return nil, err
	}
	verified := map[string]bool{}
	for _, v := range domains {
		verified[v] = true
	}
	var f []apperr.FieldError
	for _, c := range []struct{ field, address string }{{"dispatch.from.address", d.From.Address}, {"dispatch.reply_to", d.ReplyTo}} {
		if c.address != "" && !verified[domainOf(c.address)] {
			f = append(f, apperr.FieldError{Field: c.field,
				Message: "the address must be at a sender domain verified for this federation (ask the platform administrator to verify " + domainOf(c.address) + ")"})
		}
	}
	return f, nil
}

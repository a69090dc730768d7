package workflow

import (
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
)

// Settings is a tenant's configuration document: {"workflow": {...}, "dispatch": {...},
// "retention": {...}}.
type Settings struct {
	Workflow WorkflowSettings `json:"workflow"`
	Dispatch DispatchSettings `json:"dispatch"`
	// Retention says when submissions are deleted or shredded (retention.go). Left out
	// of a PUT, it is the default: nothing is ever deleted.
	Retention RetentionSettings `json:"retention"`
	// Tokens is the tenant's API token policy; its meaning is auth's, which enforces
	// it. Optional in a PUT (left out: no policy).
	Tokens auth.TokenPolicy `json:"tokens,omitempty"`
}

// WorkflowSettings tune approval.
type WorkflowSettings struct {
	// RequiredApprovals is how many distinct reviewers must approve a revision.
	RequiredApprovals int `json:"required_approvals"`
	// RequireSignatory adds the approved -> sign step before dispatch.
	RequireSignatory bool `json:"require_signatory"`
}

// DispatchSettings say how approved submissions are sent.
type DispatchSettings struct {
	// Sandbox sends everything to SandboxRecipient and marks the letter as a test.
	Sandbox          bool        `json:"sandbox"`
	SandboxRecipient string      `json:"sandbox_recipient"`
	From             Mailbox     `json:"from"`
	ReplyTo          string      `json:"reply_to"`
	Recipients       []Recipient `json:"recipients"`
	Letterhead       Letterhead  `json:"letterhead"`
	Signatory        Person      `json:"signatory"`
	// MaxEmailBytes bounds an e-mail; larger evidence is sent as expiring links.
	MaxEmailBytes int64 `json:"max_email_bytes"`
}

// RetentionSettings say how long submissions are kept (ADR 0030). Zero means never:
// the default for all three, so that nothing is deleted until a tenant admin decides.
type RetentionSettings struct {
	// DraftDays: a draft nobody changed for this many days is deleted with its files,
	// its editors told by e-mail 7 days before.
	DraftDays int `json:"draft_days" doc:"Days after its last change that a draft is deleted, with its evidence; its editors are told 7 days before. 0: never (the default); else 30 to 3650"`
	// ClosedDays: a withdrawn or rejected submission is deleted this many days after
	// its last change.
	ClosedDays int `json:"closed_days" doc:"Days after its last change that a withdrawn or rejected submission is deleted, with its revisions, comments and evidence. 0: never (the default); else 30 to 3650"`
	// DispatchedYears: a dispatched submission's title, texts, comments and evidence are
	// shredded this many years after its last change; its record of what was sent stays.
	DispatchedYears int `json:"dispatched_years" doc:"Years after its last change (its dispatch, or a later comment) that a dispatched submission's title, texts, comments and evidence are crypto-shredded; the record of what was sent (date, recipients, Message-ID, hashes) and the audit trail stay. 0: never (the default); else 1 to 100"`
}

// The bounds of the retention settings.
const (
	MinRetentionDays  = 30
	MaxRetentionDays  = 3650
	MaxRetentionYears = 100
	// RetentionWarningDays is how long before its deletion a draft's editors are told.
	RetentionWarningDays = 7
)

// Never reports whether the settings delete nothing.
func (r RetentionSettings) Never() bool {
	return r.DraftDays == 0 && r.ClosedDays == 0 && r.DispatchedYears == 0
}

// validate names each bad field, under prefix.
func (r RetentionSettings) validate(prefix string) []apperr.FieldError {
	var f []apperr.FieldError
	days := func(field string, v int) {
		if v != 0 && (v < MinRetentionDays || v > MaxRetentionDays) {
			f = append(f, apperr.FieldError{Field: prefix + "." + field,
				Message: fmt.Sprintf("expected 0 (never) or %d to %d days", MinRetentionDays, MaxRetentionDays)})
		}
	}
	days("draft_days", r.DraftDays)
	days("closed_days", r.ClosedDays)
	if r.DispatchedYears < 0 || r.DispatchedYears > MaxRetentionYears {
		f = append(f, apperr.FieldError{Field: prefix + ".dispatched_years",
			Message: fmt.Sprintf("expected 0 (never) or 1 to %d years", MaxRetentionYears)})
	}
	return f
}

// Mailbox is a name and an address.
type Mailbox struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// Recipient is one addressee of dispatched letters.
type Recipient struct {
	Name    string `json:"name"`
	Title   string `json:"title"`
	Address string `json:"address"`
	Kind    string `json:"kind" enum:"recipient_kind"` // to, cc or bcc
}

// Letterhead is the sender block of the letter.
type Letterhead struct {
	Organization string   `json:"organization"`
	AddressLines []string `json:"address_lines"`
	Place        string   `json:"place"`
}

// Person is a name and a title, such as the signatory.
type Person struct {
	Name  string `json:"name"`
	Title string `json:"title"`
}

// DefaultMaxEmailBytes is the default bound on one e-mail.
const DefaultMaxEmailBytes = 15 << 20

// DefaultSettings are a new tenant's: one approval, no signatory step, sandbox on.
func DefaultSettings() Settings {
	return Settings{
		Workflow: WorkflowSettings{RequiredApprovals: 1},
		Dispatch: DispatchSettings{Sandbox: true, MaxEmailBytes: DefaultMaxEmailBytes, Recipients: []Recipient{}},
	}
}

// Validate checks every field and names each bad one.
func (s *Settings) Validate() error {
	var f []apperr.FieldError
	add := func(field, msg string) { f = append(f, apperr.FieldError{Field: field, Message: msg}) }
	if s.Workflow.RequiredApprovals < 1 || s.Workflow.RequiredApprovals > 10 {
		add("workflow.required_approvals", "expected 1 to 10")
	}
	d := &s.Dispatch
	checkAddr := func(field, v string, required bool) {
		if v == "" {
			if required {
				add(field, "required")
			}
			return
		}
		if !validAddress(v) {
			add(field, "expected an e-mail address such as cfa@ilo.org")
		}
	}
	checkText := func(field, v string, max int) {
		if utf8.RuneCountInString(v) > max || strings.ContainsAny(v, "\r\n") {
			add(field, fmt.Sprintf("at most %d characters, on one line", max))
		}
	}
	checkAddr("dispatch.sandbox_recipient", d.SandboxRecipient, false)
	checkAddr("dispatch.from.address", d.From.Address, false)
	checkText("dispatch.from.name", d.From.Name, 200)
	checkAddr("dispatch.reply_to", d.ReplyTo, false)
	if len(d.Recipients) > 20 {
		add("dispatch.recipients", "at most 20 recipients")
	}
	hasTo := false
	for i, r := range d.Recipients {
		p := fmt.Sprintf("dispatch.recipients[%d]", i)
		checkAddr(p+".address", r.Address, true)
		checkText(p+".name", r.Name, 200)
		checkText(p+".title", r.Title, 200)
		switch r.Kind {
		case "to":
			hasTo = true
		case "cc", "bcc":
		default:
			add(p+".kind", "expected to, cc or bcc")
		}
	}
	if !d.Sandbox && !hasTo {
		add("dispatch.recipients", "at least one recipient of kind to when sandbox is off")
	}
	checkText("dispatch.letterhead.organization", d.Letterhead.Organization, 200)
	checkText("dispatch.letterhead.place", d.Letterhead.Place, 100)
	if len(d.Letterhead.AddressLines) > 8 {
		add("dispatch.letterhead.address_lines", "at most 8 lines")
	}
	for i, l := range d.Letterhead.AddressLines {
		checkText(fmt.Sprintf("dispatch.letterhead.address_lines[%d]", i), l, 200)
	}
	checkText("dispatch.signatory.name", d.Signatory.Name, 200)
	checkText("dispatch.signatory.title", d.Signatory.Title, 200)
	if d.MaxEmailBytes < 1<<20 || d.MaxEmailBytes > 100<<20 {
		add("dispatch.max_email_bytes", "expected 1 MiB to 100 MiB, in bytes")
	}
	f = append(f, s.Retention.validate("retention")...)
	f = append(f, s.Tokens.Validate("tokens")...)
	if len(f) > 0 {
		return apperr.Invalid("the settings are invalid", f...)
	}
	if d.Recipients == nil {
		d.Recipients = []Recipient{}
	}
	return nil
}

// validAddress accepts a bare e-mail address with no display name and no line breaks.
func validAddress(v string) bool {
	if len(v) > 254 || strings.ContainsAny(v, "\r\n<>\"") {
		return false
	}
	a, err := mail.ParseAddress(v)
	return err == nil && a.Address == v && a.Name == ""
}

// Settings returns the tenant's settings, with defaults for what was never set.
func (s *Service) Settings(ctx context.Context, a *auth.TenantAccess) (*Settings, error) {
	return s.SettingsFor(ctx, a.Tenant.ID)
}

// SettingsFor returns a tenant's settings for work done for no user (notifications).
func (s *Service) SettingsFor(ctx context.Context, tenantID string) (*Settings, error) {
	raw, err := auth.TenantSettings(ctx, s.db, tenantID)
	if err != nil {
		return nil, err
	}
	return ParseSettings(raw)
}

// ParseSettings reads a stored settings document, with defaults for what it lacks.
func ParseSettings(raw string) (*Settings, error) {
	st := DefaultSettings()
	if raw != "" && raw != "{}" {
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			return nil, fmt.Errorf("stored settings: %w", err)
		}
	}
	st.normalize()
	return &st, nil
}

// normalize gives lists their empty value: clients read [] where nothing was set,
// never null.
func (s *Settings) normalize() {
	if s.Dispatch.Recipients == nil {
		s.Dispatch.Recipients = []Recipient{}
	}
	if s.Dispatch.Letterhead.AddressLines == nil {
		s.Dispatch.Letterhead.AddressLines = []string{}
	}
}

// PutSettings replaces the tenant's settings after validating them.
func (s *Service) PutSettings(ctx context.Context, a *auth.TenantAccess, st Settings) (*Settings, error) {
	if err := a.Require(auth.PermSettingsWrite); err != nil {
		return nil, err
	}
	if err := st.Validate(); err != nil {
		return nil, err
	}
	st.normalize()
	if f, err := s.unverifiedSenders(ctx, a.Tenant.ID, &st.Dispatch); err != nil {
		return nil, err
	} else if len(f) > 0 {
		return nil, apperr.Invalid("the settings are invalid", f...)
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	err = s.db.WithTx(ctx, func(ctx context.Context) error {
		if err := auth.SetTenantSettings(ctx, s.db, a.Tenant.ID, string(raw), s.now()); err != nil {
			return err
		}
		return s.event(ctx, a, "settings.updated", "tenant", a.Tenant.ID, map[string]any{"settings": st})
	})
	if err != nil {
		return nil, err
	}
	return &st, nil
}

package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/storage"
)

// The ILO's correspondence (ADR 0036): messages the Office sends back about a case (an
// acknowledgement, a request for further information, the government's observations,
// the Committee's report), imported from the tenant's mailbox by the inbound package
// into the case they concern. The workflow owns correspondence_items and
// correspondence_files: they belong to cases, and a draft may answer one.
//
// Texts (subject, body, the sender's name) and attachment names are sealed under a data
// key of the item's own (kept with the submissions' keys, keyed by the item's id);
// attachments are age files under the same key.

// Correspondence kinds: what the Office's message is, guessed on import from its words
// and correctable by reviewers.
const (
	KindAcknowledgement       = "acknowledgement"
	KindRequestForInformation = "request_for_information"
	KindGovernmentObservation = "government_observations"
	KindCommitteeReport       = "committee_report"
	KindOtherCorrespondence   = "other"
)

// CorrespondenceKinds lists the kinds, for the API's enum.
func CorrespondenceKinds() []string {
	return []string{KindAcknowledgement, KindRequestForInformation, KindGovernmentObservation, KindCommitteeReport, KindOtherCorrespondence}
}

// Statuses of an item: only requests for information are open until a reply to them is
// dispatched.
const (
	CorrespondenceNone     = "none"
	CorrespondenceOpen     = "open"
	CorrespondenceAnswered = "answered"
)

// CorrespondenceStatuses lists the statuses, for the API's enum.
func CorrespondenceStatuses() []string {
	return []string{CorrespondenceNone, CorrespondenceOpen, CorrespondenceAnswered}
}

// CorrespondenceItem is one message imported into a case.
type CorrespondenceItem struct {
	ID           string  `json:"id"`
	TenantID     string  `json:"-"`
	CaseID       string  `json:"case_id"`
	SubmissionID *string `json:"submission_id" doc:"The submission whose dispatched letter the message answers (matched by its e-mail thread); null when it was matched by the case number"`
	DispatchID   *string `json:"dispatch_id" doc:"The dispatch the message answers; null when matched by the case number"`
	MatchedBy    string  `json:"matched_by" enum:"correspondence_match" doc:"thread: its In-Reply-To or References named a dispatch's Message-ID; case_number: its subject named the case"`
	MessageID    string  `json:"message_id" doc:"The message's Message-ID, with angle brackets"`
	InReplyTo    string  `json:"-"`
	References   string  `json:"-" gorm:"column:references_ids"`
	FromAddress  string  `json:"from_address"`
	// FromName, Subject and Body are the texts once opened; the Sealed… fields are what
	// the database keeps.
	FromName       string               `json:"from_name" gorm:"-"`
	SealedFromName string               `json:"-" gorm:"column:from_name"`
	Subject        string               `json:"subject" gorm:"-"`
	SealedSubject  string               `json:"-" gorm:"column:subject"`
	Body           string               `json:"body,omitempty" gorm:"-" doc:"The message's text (HTML converted to plain text); only in the answer for one item"`
	SealedBody     string               `json:"-" gorm:"column:body"`
	SentAt         *time.Time           `json:"sent_at" doc:"The message's Date header"`
	ReceivedAt     time.Time            `json:"received_at" doc:"When the portal imported it"`
	Kind           string               `json:"kind" enum:"correspondence_kind"`
	Status         string               `json:"status" enum:"correspondence_status" doc:"open: a request for information not answered yet; answered: a reply to it was dispatched; none otherwise"`
	SPF            string               `json:"spf" doc:"SPF result (RFC 7601 words: pass, fail, softfail, neutral, none, temperror, permerror), from the receiving server's trusted Authentication-Results; none when not evaluated"`
	DKIM           string               `json:"dkim" doc:"DKIM result for a signature of the sender's domain"`
	DMARC          string               `json:"dmarc" doc:"DMARC result: pass when an aligned DKIM signature (or a trusted Authentication-Results) vouches for the From domain"`
	AuthSource     string               `json:"auth_source" enum:"correspondence_auth_source" doc:"verified: the portal checked the DKIM signatures itself; trusted_header: the receiving server's Authentication-Results were used, as the tenant configured"`
	Authenticated  bool                 `json:"authenticated" doc:"The From domain is vouched for (DMARC pass)"`
	SenderWarning  bool                 `json:"sender_warning" doc:"The message claims to come from the ILO but is not authenticated: treat it with suspicion"`
	Shared         bool                 `json:"shared" doc:"Visible to the members of the case's organizations, not only to the secretariat: true for an authenticated sender or a reply to one of the tenant's letters, otherwise once a reviewer shares it (anyone can write Case No. 3386 in a subject)"`
	AnsweredBy     *string              `json:"answered_by" doc:"The submission that answers this request for information, once started"`
	CreatedAt      time.Time            `json:"-"`
	UpdatedAt      time.Time            `json:"updated_at"`
	Files          []CorrespondenceFile `json:"files" gorm:"-"`
	textsOpen      bool
}

// TableName names the table.
func (CorrespondenceItem) TableName() string { return "correspondence_items" }

// CorrespondenceFile is an attachment of an imported message.
type CorrespondenceFile struct {
	ID             string `json:"id"`
	TenantID       string `json:"-"`
	ItemID         string `json:"-"`
	Position       int    `json:"-"`
	FileName       string `json:"file_name" gorm:"-"`
	SealedFileName string `json:"-" gorm:"column:file_name"`
	ContentType    string `json:"content_type"`
	Size           int64  `json:"size"`
	SHA256         string `json:"sha256"`
	ObjectKey      string `json:"-"`
}

// TableName names the table.
func (CorrespondenceFile) TableName() string { return "correspondence_files" }

// IncomingFile is one attachment of a message to import: read once, while importing.
type IncomingFile struct {
	Name        string
	ContentType string
	Body        io.Reader
}

// MessageAuth is what the inbound package found out about a message's sender.
type MessageAuth struct {
	SPF, DKIM, DMARC string
	Source           string // verified or trusted_header
	Authenticated    bool
	Warning          bool
}

// IncomingMessage is a message the inbound package matched to a case.
type IncomingMessage struct {
	TenantID, CaseID string
	// SubmissionID and DispatchID are set when it answers a dispatch.
	SubmissionID, DispatchID string
	MatchedBy                string
	MessageID, InReplyTo     string
	References               []string
	FromAddress, FromName    string
	Subject, Body            string
	SentAt                   *time.Time
	Auth                     MessageAuth
	Files                    []IncomingFile
}

// CorrespondenceHooks are told of each imported item, in its transaction (the dispatch
// package notifies the tenant's reviewers).
type CorrespondenceHooks interface {
	CorrespondenceImported(ctx context.Context, item *CorrespondenceItem, caseNumber string) error
}

// UseCorrespondenceHooks wires the hooks (portal does, once).
func (s *Service) UseCorrespondenceHooks(h CorrespondenceHooks) { s.correspondenceHooks = h }

// MaxCorrespondenceText bounds the text kept of a message's body.
const MaxCorrespondenceText = 1 << 20

// ImportedMessageIDs returns which of the Message-IDs the tenant has imported already.
func (s *Service) ImportedMessageIDs(ctx context.Context, tenantID string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for chunk := range slices.Chunk(ids, 500) {
		var found []string
		if err := s.db.Conn(ctx).Model(&CorrespondenceItem{}).Where("tenant_id = ? AND message_id IN ?", tenantID, chunk).
			Pluck("message_id", &found).Error; err != nil {
			return nil, err
		}
		for _, id := range found {
			out[id] = true
		}
	}
	return out, nil
}

// CaseIDsByNumber returns the ids of the tenant's cases by their numbers, for the
// numbers given that name one.
func (s *Service) CaseIDsByNumber(ctx context.Context, tenantID string, numbers []string) (map[string]string, error) {
	out := map[string]string{}
	if len(numbers) == 0 {
		return out, nil
	}
	var cs []Case
	if err := s.db.Conn(ctx).Select("id, number").Where("tenant_id = ? AND number IN ?", tenantID, numbers).Find(&cs).Error; err != nil {
		return nil, err
	}
	for _, c := range cs {
		out[c.Number] = c.ID
	}
	return out, nil
}

// SubmissionCases returns the cases of the tenant's submissions given, by submission.
func (s *Service) SubmissionCases(ctx context.Context, tenantID string, submissionIDs []string) (map[string]string, error) {
	out := map[string]string{}
	if len(submissionIDs) == 0 {
		return out, nil
	}
	var subs []Submission
	if err := s.db.Conn(ctx).Select("id, case_id").Where("tenant_id = ? AND id IN ?", tenantID, submissionIDs).Find(&subs).Error; err != nil {
		return nil, err
	}
	for _, sub := range subs {
		out[sub.ID] = sub.CaseID
	}
	return out, nil
}

// ClassifyCorrespondence guesses an item's kind from its subject and text, in the
// ILO's four languages; reviewers correct it when it is wrong.
func ClassifyCorrespondence(subject, body string) string {
	text := strings.ToLower(subject + "\n" + body)
	has := func(words ...string) bool {
		return slices.ContainsFunc(words, func(w string) bool { return strings.Contains(text, w) })
	}
	switch {
	case has("further information", "additional information", "request for information", "complément d'information",
		"compléments d'information", "informations complémentaires", "información adicional", "informaciones complementarias",
		"información complementaria", "дополнительную информацию", "дополнительной информации"):
		return KindRequestForInformation
	case has("observations of the government", "government's observations", "observations from the government",
		"observations du gouvernement", "observaciones del gobierno", "замечания правительства"):
		return KindGovernmentObservation
	case has("report of the committee", "committee's report", "rapport du comité", "informe del comité", "доклад комитета"):
		return KindCommitteeReport
	case has("acknowledge receipt", "acknowledgement of receipt", "acknowledging receipt", "accusé de réception",
		"accuse réception", "accusons réception", "acuse de recibo", "acusamos recibo", "подтверждаем получение", "подтверждение получения"):
		return KindAcknowledgement
	}
	return KindOtherCorrespondence
}

func statusFor(kind string) string {
	if kind == KindRequestForInformation {
		return CorrespondenceOpen
	}
	return CorrespondenceNone
}

// ImportCorrespondence imports a matched message into its case: its texts sealed, its
// attachments encrypted in storage with their hashes, one audit event and the hooks'
// notification in one transaction. A message the tenant imported already (same
// Message-ID, by this process or another at the same time) is imported once: the
// second import stores nothing and returns nil, false.
func (s *Service) ImportCorrespondence(ctx context.Context, m IncomingMessage) (*CorrespondenceItem, bool, error) {
	if m.MessageID == "" || m.TenantID == "" || m.CaseID == "" {
		return nil, false, errors.New("workflow: a message to import needs a tenant, a case and a Message-ID")
	}
	if seen, err := s.ImportedMessageIDs(ctx, m.TenantID, []string{m.MessageID}); err != nil || seen[m.MessageID] {
		return nil, false, err
	}
	now := s.now()
	kind := ClassifyCorrespondence(m.Subject, m.Body)
	it := &CorrespondenceItem{ID: database.NewID(), TenantID: m.TenantID, CaseID: m.CaseID, MatchedBy: m.MatchedBy,
		MessageID: m.MessageID, InReplyTo: m.InReplyTo, References: strings.Join(m.References, " "),
		FromAddress: m.FromAddress, FromName: m.FromName, Subject: m.Subject, Body: truncateUTF8(m.Body, MaxCorrespondenceText),
		SentAt: m.SentAt, ReceivedAt: now, Kind: kind, Status: statusFor(kind),
		SPF: orNone(m.Auth.SPF), DKIM: orNone(m.Auth.DKIM), DMARC: orNone(m.Auth.DMARC), AuthSource: m.Auth.Source,
		Authenticated: m.Auth.Authenticated, SenderWarning: m.Auth.Warning, CreatedAt: now, UpdatedAt: now, textsOpen: true,
		// Anyone can write "Case No. 3386" in a subject: such a message reaches the case's
		// organizations only from an authenticated sender, else when a reviewer shares it.
		Shared: m.Auth.Authenticated || m.MatchedBy == "thread"}
	if m.SubmissionID != "" {
		it.SubmissionID, it.DispatchID = &m.SubmissionID, &m.DispatchID
	}
	// The files first, outside the transaction (they may be large); a failed or lost
	// import removes them.
	stored := []string{}
	cleanup := func() {
		ctx := context.WithoutCancel(ctx)
		s.deleteObjects(ctx, stored...)
		_ = s.opts.Keys.ShredSubmission(ctx, it.ID)
	}
	z := s.sealer(it.TenantID, it.ID)
	for i, f := range m.Files {
		cf := CorrespondenceFile{ID: database.NewID(), TenantID: it.TenantID, ItemID: it.ID, Position: i,
			FileName: SanitizeFileName(f.Name), ContentType: f.ContentType}
		cf.ObjectKey = keys.SealedKey(storage.CorrespondenceKey(it.TenantID, it.ID, cf.ID))
		h := sha256.New()
		cr := &countingReader{r: io.TeeReader(f.Body, h)}
		stored = append(stored, cf.ObjectKey)
		if err := s.files.Put(ctx, it.TenantID, it.ID, cf.ObjectKey, cr, -1); err != nil {
			cleanup()
			return nil, false, err
		}
		cf.Size, cf.SHA256 = cr.n, hex.EncodeToString(h.Sum(nil))
		it.Files = append(it.Files, cf)
	}
	inserted := false
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		var err error
		if it.SealedSubject, err = z.seal(ctx, "correspondence_items", "subject", it.ID, it.Subject); err != nil {
			return err
		}
		if it.SealedBody, err = z.seal(ctx, "correspondence_items", "body", it.ID, it.Body); err != nil {
			return err
		}
		if it.SealedFromName, err = z.seal(ctx, "correspondence_items", "from_name", it.ID, it.FromName); err != nil {
			return err
		}
		res := s.db.Conn(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(it)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		inserted = true
		for i := range it.Files {
			f := &it.Files[i]
			if f.SealedFileName, err = z.seal(ctx, "correspondence_files", "file_name", f.ID, f.FileName); err != nil {
				return err
			}
			if err := s.db.Conn(ctx).Create(f).Error; err != nil {
				return err
			}
		}
		var number string
		if err := s.db.Conn(ctx).Model(&Case{}).Where("id = ?", it.CaseID).Pluck("number", &number).Error; err != nil {
			return err
		}
		if _, err := audit.Record(ctx, s.db, audit.Entry{TenantID: it.TenantID, Action: "correspondence.imported",
			ObjectType: "correspondence", ObjectID: it.ID, At: now, Details: map[string]any{"case_id": it.CaseID,
				"matched_by": it.MatchedBy, "kind": it.Kind, "files": len(it.Files), "authenticated": it.Authenticated,
				"sender_warning": it.SenderWarning}}); err != nil {
			return err
		}
		if s.correspondenceHooks != nil {
			return s.correspondenceHooks.CorrespondenceImported(ctx, it, number)
		}
		return nil
	})
	if err != nil || !inserted {
		cleanup()
		return nil, false, err
	}
	return it, true, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !isRuneStart(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return strings.ToValidUTF8(s, "")
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// correspondenceScope limits items to what the caller may see: every item for those
// who see every submission (the secretariat); for an affiliate's members, the items of
// the cases their organization has a submission in: the Office writes about the case,
// and the complainants answer it together.
func (s *Service) correspondenceScope(ctx context.Context, a *auth.TenantAccess) (*gorm.DB, error) {
	if err := a.Require(auth.PermCaseRead); err != nil {
		return nil, err
	}
	sc, err := submissionScope(a)
	if err != nil {
		return nil, apperr.NotFound("correspondence")
	}
	q := s.db.Conn(ctx).Where("correspondence_items.tenant_id = ?", a.Tenant.ID)
	if org := sc.OrganizationID(); org != "" {
		q = q.Where("correspondence_items.shared AND correspondence_items.case_id IN (SELECT case_id FROM submissions WHERE tenant_id = ? AND organization_id = ?)", a.Tenant.ID, org)
	}
	return q, nil
}

// openItem opens an item's texts (and its files' names).
func (s *Service) openItem(ctx context.Context, it *CorrespondenceItem, withBody bool) error {
	if it.textsOpen {
		return nil
	}
	z := s.sealer(it.TenantID, it.ID)
	var err error
	if it.Subject, err = z.open(ctx, "correspondence_items", "subject", it.ID, it.SealedSubject); err != nil {
		return err
	}
	if it.FromName, err = z.open(ctx, "correspondence_items", "from_name", it.ID, it.SealedFromName); err != nil {
		return err
	}
	if withBody {
		if it.Body, err = z.open(ctx, "correspondence_items", "body", it.ID, it.SealedBody); err != nil {
			return err
		}
	}
	for i := range it.Files {
		f := &it.Files[i]
		if f.FileName, err = z.open(ctx, "correspondence_files", "file_name", f.ID, f.SealedFileName); err != nil {
			return err
		}
	}
	it.textsOpen = withBody
	return nil
}

func (s *Service) itemFiles(ctx context.Context, items []CorrespondenceItem) error {
	if len(items) == 0 {
		return nil
	}
	ids := make([]string, len(items))
	at := map[string]int{}
	for i := range items {
		ids[i], at[items[i].ID] = items[i].ID, i
		items[i].Files = []CorrespondenceFile{}
	}
	var files []CorrespondenceFile
	if err := s.db.Conn(ctx).Where("item_id IN ?", ids).Order("item_id, position").Find(&files).Error; err != nil {
		return err
	}
	for _, f := range files {
		it := &items[at[f.ItemID]]
		it.Files = append(it.Files, f)
	}
	return nil
}

// CaseCorrespondence lists a case's items the caller may see, oldest first, without
// their bodies.
func (s *Service) CaseCorrespondence(ctx context.Context, a *auth.TenantAccess, caseID string) ([]CorrespondenceItem, error) {
	if _, err := s.caseByID(ctx, a, caseID, false); err != nil {
		return nil, err
	}
	q, err := s.correspondenceScope(ctx, a)
	if err != nil {
		return nil, err
	}
	items := []CorrespondenceItem{}
	if err := q.Where("case_id = ?", caseID).Order("received_at, id").Limit(1000).Find(&items).Error; err != nil {
		return nil, err
	}
	if err := s.itemFiles(ctx, items); err != nil {
		return nil, err
	}
	for i := range items {
		if err := s.openItem(ctx, &items[i], false); err != nil {
			return nil, s.reportUnreadable(ctx, err)
		}
	}
	return items, nil
}

// ListCorrespondence lists the items the caller may see across the tenant's cases,
// newest first, without their bodies: the tenant's inbox of the ILO's answers.
func (s *Service) ListCorrespondence(ctx context.Context, a *auth.TenantAccess, page database.Page) ([]CorrespondenceItem, string, error) {
	q, err := s.correspondenceScope(ctx, a)
	if err != nil {
		return nil, "", err
	}
	if q, err = afterTimeIDOn(q, "correspondence_items", "received_at", page); err != nil {
		return nil, "", err
	}
	var rows []CorrespondenceItem
	if err := q.Order("received_at DESC, id DESC").Limit(page.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	items, next := database.Trim(rows, page, func(it CorrespondenceItem) []string { return timeIDKey(it.ReceivedAt, it.ID) })
	if err := s.itemFiles(ctx, items); err != nil {
		return nil, "", err
	}
	for i := range items {
		if err := s.openItem(ctx, &items[i], false); err != nil {
			return nil, "", s.reportUnreadable(ctx, err)
		}
	}
	return items, next, nil
}

// loadItem finds an item the caller may see (404 otherwise).
func (s *Service) loadItem(ctx context.Context, a *auth.TenantAccess, id string, lock bool) (*CorrespondenceItem, error) {
	if !database.ValidID(id) {
		return nil, apperr.NotFound("correspondence")
	}
	q, err := s.correspondenceScope(ctx, a)
	if err != nil {
		return nil, err
	}
	if lock {
		q = s.forUpdate(q)
	}
	var it CorrespondenceItem
	if err := q.Where("id = ?", id).First(&it).Error; err != nil {
		return nil, notFound(err, "correspondence")
	}
	return &it, nil
}

// Correspondence returns one item with its body and files. Reading it is audited
// (correspondence.read): it is what the Office wrote about a case.
func (s *Service) Correspondence(ctx context.Context, a *auth.TenantAccess, id string) (*CorrespondenceItem, error) {
	return s.correspondence(ctx, a, id, true)
}

// correspondence reads an item, auditing the read when audited (not after a change,
// which its own event records).
func (s *Service) correspondence(ctx context.Context, a *auth.TenantAccess, id string, audited bool) (*CorrespondenceItem, error) {
	it, err := s.loadItem(ctx, a, id, false)
	if err != nil {
		return nil, err
	}
	items := []CorrespondenceItem{*it}
	if err := s.itemFiles(ctx, items); err != nil {
		return nil, err
	}
	it = &items[0]
	if err := s.openItem(ctx, it, true); err != nil {
		return nil, s.reportUnreadable(ctx, err)
	}
	if audited {
		if err := s.event(ctx, a, "correspondence.read", "correspondence", it.ID, map[string]any{"case_id": it.CaseID}); err != nil {
			return nil, err
		}
	}
	return it, nil
}

// CorrespondenceFiles lists an item's attachments (names, sizes, hashes), without
// opening its text.
func (s *Service) CorrespondenceFiles(ctx context.Context, a *auth.TenantAccess, id string) ([]CorrespondenceFile, error) {
	it, err := s.loadItem(ctx, a, id, false)
	if err != nil {
		return nil, err
	}
	items := []CorrespondenceItem{*it}
	if err := s.itemFiles(ctx, items); err != nil {
		return nil, err
	}
	if err := s.openItem(ctx, &items[0], false); err != nil {
		return nil, s.reportUnreadable(ctx, err)
	}
	return items[0].Files, nil
}

// CorrespondenceUpdate corrects an item's kind or status (reviewers).
type CorrespondenceUpdate struct {
	Kind   *string `json:"kind,omitempty" enum:"correspondence_kind"`
	Status *string `json:"status,omitempty" enum:"correspondence_status"`
	Shared *bool   `json:"shared,omitempty" doc:"true: the case's organizations see the message too; false: the secretariat only"`
}

// UpdateCorrespondence corrects an item's kind or status (the guess on import may be
// wrong, and a request may be settled without a letter) or shares it with the case's
// organizations.
func (s *Service) UpdateCorrespondence(ctx context.Context, a *auth.TenantAccess, id string, in CorrespondenceUpdate) (*CorrespondenceItem, error) {
	if err := a.Require(auth.PermSubmissionReview); err != nil {
		return nil, err
	}
	var f []apperr.FieldError
	if in.Kind != nil && !slices.Contains(CorrespondenceKinds(), *in.Kind) {
		f = append(f, apperr.FieldError{Field: "kind", Message: "expected one of " + strings.Join(CorrespondenceKinds(), ", ")})
	}
	if in.Status != nil && !slices.Contains(CorrespondenceStatuses(), *in.Status) {
		f = append(f, apperr.FieldError{Field: "status", Message: "expected one of " + strings.Join(CorrespondenceStatuses(), ", ")})
	}
	if len(f) > 0 {
		return nil, apperr.Invalid("the correspondence update is invalid", f...)
	}
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		it, err := s.loadItem(ctx, a, id, true)
		if err != nil {
			return err
		}
		before := map[string]any{"kind": it.Kind, "status": it.Status, "shared": it.Shared}
		if in.Shared != nil {
			it.Shared = *in.Shared
		}
		if in.Kind != nil {
			it.Kind = *in.Kind
			if in.Status == nil {
				it.Status = statusFor(it.Kind)
				if it.AnsweredBy != nil && it.Kind == KindRequestForInformation {
					it.Status = CorrespondenceAnswered
				}
			}
		}
		if in.Status != nil {
			it.Status = *in.Status
		}
		it.UpdatedAt = s.now()
		if err := s.db.Conn(ctx).Model(it).Select("kind", "status", "shared", "updated_at").Updates(it).Error; err != nil {
			return err
		}
		return s.event(ctx, a, "correspondence.updated", "correspondence", it.ID, map[string]any{"before": before,
			"kind": it.Kind, "status": it.Status, "shared": it.Shared})
	})
	if err != nil {
		return nil, err
	}
	return s.correspondence(ctx, a, id, false)
}

// OpenCorrespondenceFile opens an attachment of an item the caller may see; the read
// is audited.
func (s *Service) OpenCorrespondenceFile(ctx context.Context, a *auth.TenantAccess, itemID, fileID string) (*CorrespondenceFile, storage.Object, error) {
	it, err := s.loadItem(ctx, a, itemID, false)
	if err != nil {
		return nil, nil, err
	}
	if !database.ValidID(fileID) {
		return nil, nil, apperr.NotFound("file")
	}
	var f CorrespondenceFile
	if err := s.db.Conn(ctx).Where("item_id = ? AND id = ?", it.ID, fileID).First(&f).Error; err != nil {
		return nil, nil, notFound(err, "file")
	}
	if f.FileName, err = s.sealer(it.TenantID, it.ID).open(ctx, "correspondence_files", "file_name", f.ID, f.SealedFileName); err != nil {
		return nil, nil, s.reportUnreadable(ctx, err)
	}
	obj, err := s.files.Open(ctx, it.TenantID, it.ID, f.ObjectKey)
	if err != nil {
		if errors.Is(err, keys.ErrShredded) || errors.Is(err, keys.ErrCannotOpen) {
			return nil, nil, s.reportUnreadable(ctx, s.unreadable(ctx, it.TenantID, it.ID, "correspondence_files", f.ID, err))
		}
		return nil, nil, err
	}
	if err := s.event(ctx, a, "correspondence.file_read", "correspondence", it.ID, map[string]any{"file_id": f.ID}); err != nil {
		_ = obj.Close()
		return nil, nil, err
	}
	return &f, obj, nil
}

// ReplyHeaders are the threading headers a dispatched reply carries.
type ReplyHeaders struct {
	InReplyTo  string
	References []string
}

// replyHeaders returns the headers of a reply to the item: In-Reply-To its Message-ID,
// References its references and its Message-ID (RFC 5322 3.6.4), at most 20.
//
// The ids were checked on import; rows can also come from an export, so each is
// checked again here (an id that is not one is left out; without a Message-ID, no
// threading headers at all): nothing stored can shape a header of the reply.
func (it *CorrespondenceItem) replyHeaders() *ReplyHeaders {
	if !msgIDOK(it.MessageID) {
		return nil
	}
	var refs []string
	for _, id := range strings.Fields(it.References) {
		if msgIDOK(id) && !slices.Contains(refs, id) {
			refs = append(refs, id)
		}
	}
	if msgIDOK(it.InReplyTo) && !slices.Contains(refs, it.InReplyTo) {
		refs = append(refs, it.InReplyTo)
	}
	if !slices.Contains(refs, it.MessageID) {
		refs = append(refs, it.MessageID)
	}
	if len(refs) > 20 {
		refs = append(refs[:1], refs[len(refs)-19:]...)
	}
	return &ReplyHeaders{InReplyTo: it.MessageID, References: refs}
}

// msgIDOK accepts a Message-ID as the inbound package keeps them: angle brackets
// around printable ASCII without spaces or other brackets, with an "@", 503 bytes at
// most.
func msgIDOK(id string) bool {
	if len(id) < 5 || len(id) > 503 || id[0] != '<' || id[len(id)-1] != '>' || !strings.Contains(id, "@") {
		return false
	}
	for i := 1; i < len(id)-1; i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f || c == '<' || c == '>' {
			return false
		}
	}
	return true
}

// replyTarget checks, for a new draft, the item it answers: an item of the same case
// that the caller may see.
func (s *Service) replyTarget(ctx context.Context, a *auth.TenantAccess, itemID, caseID string) (*CorrespondenceItem, error) {
	it, err := s.loadItem(ctx, a, itemID, false)
	if err != nil || it.CaseID != caseID {
		return nil, apperr.Invalid("the submission is invalid", apperr.FieldError{Field: "in_reply_to",
			Message: "expected the id of a correspondence item of the same case"})
	}
	return it, nil
}

// linkReply records, in the draft's transaction, that the item is being answered.
func (s *Service) linkReply(ctx context.Context, it *CorrespondenceItem, submissionID string) error {
	return s.db.Conn(ctx).Model(&CorrespondenceItem{}).Where("id = ? AND answered_by IS NULL", it.ID).
		Updates(map[string]any{"answered_by": submissionID, "updated_at": s.now()}).Error
}

// replySent marks the item a dispatched submission answered as answered, in the
// transaction that records the dispatch.
func (s *Service) replySent(ctx context.Context, sub *Submission) error {
	if sub.ReplyToItemID == nil {
		return nil
	}
	return s.db.Conn(ctx).Model(&CorrespondenceItem{}).Where("id = ? AND tenant_id = ? AND status = ?", *sub.ReplyToItemID, sub.TenantID, CorrespondenceOpen).
		Updates(map[string]any{"status": CorrespondenceAnswered, "updated_at": s.now()}).Error
}

// replyHeadersFor returns the threading headers of a submission that answers an item.
func (s *Service) replyHeadersFor(ctx context.Context, sub *Submission) (*ReplyHeaders, error) {
	if sub.ReplyToItemID == nil {
		return nil, nil
	}
	var it CorrespondenceItem
	err := s.db.Conn(ctx).Select("id, message_id, in_reply_to, references_ids").Where("id = ? AND tenant_id = ?", *sub.ReplyToItemID, sub.TenantID).First(&it).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return it.replyHeaders(), nil
}

// OpenRequests counts a tenant's open requests for information, by case.
func (s *Service) openRequests(ctx context.Context, tenantID string) (int64, error) {
	var n int64
	err := s.db.Conn(ctx).Model(&CorrespondenceItem{}).Where("tenant_id = ? AND kind = ? AND status = ?", tenantID,
		KindRequestForInformation, CorrespondenceOpen).Count(&n).Error
	return n, err
}

// CaseSubmissionIDs lists the ids of a case's submissions the caller may see.
func (s *Service) CaseSubmissionIDs(ctx context.Context, a *auth.TenantAccess, caseID string) ([]string, error) {
	sc, err := submissionScope(a)
	if err != nil {
		return []string{}, nil
	}
	ids := []string{}
	err = sc.Apply(s.db.Conn(ctx).Model(&Submission{}), "submissions", true).Where("case_id = ?", caseID).Order("id").Limit(1000).Pluck("id", &ids).Error
	return ids, err
}

// openRequestsFor lists the open requests for information the caller may see, oldest
// first, at most 100.
func (s *Service) openRequestsFor(ctx context.Context, a *auth.TenantAccess) ([]DueRequest, error) {
	out := []DueRequest{}
	q, err := s.correspondenceScope(ctx, a)
	if err != nil {
		return out, nil // sees no correspondence: nothing due
	}
	var items []CorrespondenceItem
	if err := q.Where("kind = ? AND status = ?", KindRequestForInformation, CorrespondenceOpen).
		Order("received_at, id").Limit(100).Find(&items).Error; err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return out, nil
	}
	caseIDs := make([]string, 0, len(items))
	for _, it := range items {
		caseIDs = append(caseIDs, it.CaseID)
	}
	var cs []Case
	if err := s.db.Conn(ctx).Select("id, number").Where("id IN ?", caseIDs).Find(&cs).Error; err != nil {
		return nil, err
	}
	numbers := map[string]string{}
	for _, c := range cs {
		numbers[c.ID] = c.Number
	}
	for i := range items {
		it := &items[i]
		if err := s.openItem(ctx, it, false); err != nil {
			return nil, s.reportUnreadable(ctx, err)
		}
		out = append(out, DueRequest{ItemID: it.ID, CaseID: it.CaseID, CaseNumber: numbers[it.CaseID], Subject: it.Subject,
			ReceivedAt: it.ReceivedAt, AnsweredBy: it.AnsweredBy})
	}
	return out, nil
}

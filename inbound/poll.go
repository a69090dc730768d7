package inbound

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/logctx"
	"github.com/unionportal/unionportal/workflow"
)

// PollReport is what one poll of one mailbox did.
type PollReport struct {
	Seen     int `json:"seen"`
	Imported int `json:"imported"`
	Skipped  int `json:"skipped"`
}

// headerFields are the header fields fetched to match a message, before its body;
// From and Date are there for the name of a message without a Message-ID (the hash
// of these fields), so that two such messages with one subject stay two.
var headerFields = []string{"Message-ID", "In-Reply-To", "References", "Subject", "From", "Date"}

// Poll reads the tenant's mailbox once: the messages that arrived since the last poll
// (by UID), at most Batch of them. It records how far it got, so that a failure
// resumes where it stopped, and the error, for the settings screen.
func (s *Service) Poll(ctx context.Context, tenantID string) (PollReport, error) {
	var r PollReport
	m, err := s.load(ctx, tenantID)
	if err != nil {
		return r, err
	}
	if m == nil || !m.Enabled {
		return r, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	ctx = logctx.With(ctx, slog.String("tenant_id", tenantID), slog.String("mailbox", m.addr()))
	c, err := s.connect(ctx, m)
	if err == nil {
		err = s.read(ctx, c, m, &r)
		_ = c.Logout().Wait()
		_ = c.Close()
	}
	s.record(context.WithoutCancel(ctx), m, r, err)
	return r, err
}

// connect dials the mailbox's server with TLS required and logs in.
func (s *Service) connect(ctx context.Context, m *Mailbox) (*imapclient.Client, error) {
	pw, err := s.password(ctx, m)
	if err != nil {
		return nil, fmt.Errorf("the mailbox's password does not decrypt: %w", err)
	}
	return s.login(ctx, m, pw)
}

// login dials the server, secures the connection (implicit TLS, or STARTTLS that must
// succeed: there is no fallback to a plain login) and logs in, all before ctx's
// deadline.
func (s *Service) login(ctx context.Context, m *Mailbox, pw string) (*imapclient.Client, error) {
	conn, err := s.dialer().DialContext(ctx, "tcp", m.addr())
	if err != nil {
		return nil, err
	}
	// The whole session is bounded: a server that stops answering (or answers a
	// little at a time, forever) cannot hold a worker. A deadline on the connection is
	// not enough: go-imap's client sets its own read deadlines on it for each response
	// and clears them in between (and its commands take no context), so the
	// connection is closed when ctx ends, which ends every read and write.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	context.AfterFunc(ctx, func() { _ = conn.Close() })
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.opts.TLS != nil {
		tc = s.opts.TLS.Clone()
	}
	tc.ServerName = m.Host
	opts := &imapclient.Options{TLSConfig: tc}
	var c *imapclient.Client
	if m.TLS == TLSImplicit {
		tlsConn := tls.Client(conn, tc)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			_ = conn.Close()
			return nil, err
		}
		c = imapclient.New(tlsConn, opts)
	} else if c, err = imapclient.NewStartTLS(conn, opts); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("STARTTLS: %w", err)
	}
	if err := c.Login(m.Username, pw).Wait(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("login: %w", err)
	}
	return c, nil
}

// candidate is a new message of the mailbox and where it belongs, if anywhere.
type candidate struct {
	uid        imap.UID
	size       int64
	env        Envelope
	caseID     string
	dispatch   string
	submission string
}

func (s *Service) read(ctx context.Context, c *imapclient.Client, m *Mailbox, r *PollReport) error {
	sel, err := c.Select(m.Folder, &imap.SelectOptions{ReadOnly: m.AfterImport == AfterLeave}).Wait()
	if err != nil {
		return fmt.Errorf("select %q: %w", m.Folder, err)
	}
	if sel.UIDValidity != m.UIDValidity {
		// A new folder, or the server renumbered it: read it from the start again.
		m.UIDValidity, m.LastUID = sel.UIDValidity, 0
	}
	if sel.NumMessages == 0 {
		return nil
	}
	// The UIDs first (cheap even for a large folder read from its start), then the
	// matching headers of the first Batch of them only.
	var set imap.UIDSet
	set.AddRange(imap.UID(m.LastUID)+1, 0)
	found, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	var uids []imap.UID
	for _, u := range found.AllUIDs() {
		if uint32(u) > m.LastUID { // "n:*" always includes the last message
			uids = append(uids, u)
		}
	}
	slices.Sort(uids)
	if len(uids) > s.opts.Batch {
		uids = uids[:s.opts.Batch]
	}
	if len(uids) == 0 {
		return nil
	}
	cands, err := fetchEnvelopes(c, uids)
	if err != nil {
		return fmt.Errorf("fetch: %w", err)
	}
	slices.SortFunc(cands, func(a, b candidate) int { return cmp.Compare(a.uid, b.uid) })
	if err := s.match(ctx, m.TenantID, cands); err != nil {
		return err
	}
	ids := make([]string, 0, len(cands))
	for _, cd := range cands {
		ids = append(ids, cd.env.MessageID)
	}
	done, err := s.wf.ImportedMessageIDs(ctx, m.TenantID, ids)
	if err != nil {
		return err
	}
	st, err := s.wf.SettingsFor(ctx, m.TenantID)
	if err != nil {
		return err
	}
	var iloDomains []string
	for _, rc := range st.Dispatch.Recipients {
		if at := strings.LastIndexByte(rc.Address, '@'); at > 0 {
			iloDomains = append(iloDomains, rc.Address[at+1:])
		}
	}
	var skipped []string
	for _, cd := range cands {
		r.Seen++
		switch {
		case cd.caseID == "" || done[cd.env.MessageID]:
			// Not about a case (left untouched), or imported already.
		case cd.size > s.opts.MaxMessageBytes:
			r.Skipped++
			skipped = append(skipped, fmt.Sprintf("message %s is %d bytes, over the limit of %d", cd.env.MessageID, cd.size, s.opts.MaxMessageBytes))
		default:
			imported, err := s.importOne(ctx, c, m, cd, iloDomains)
			var bad *MessageError
			if errors.As(err, &bad) {
				// The message itself is at fault (malformed, beyond the limits): reading
				// it again would fail again, and must not hold up the messages after it.
				r.Skipped++
				skipped = append(skipped, fmt.Sprintf("message %s is skipped: %v", cd.env.MessageID, bad))
				break
			}
			if err != nil {
				return fmt.Errorf("message %s: %w", cd.env.MessageID, err)
			}
			if imported {
				r.Imported++
			}
			if err := s.afterImport(c, m, cd.uid); err != nil {
				return err
			}
		}
		m.LastUID = uint32(cd.uid)
	}
	if len(skipped) > 0 {
		return errors.New(strings.Join(skipped, "; "))
	}
	return nil
}

// match finds each candidate's case: by its thread first (a dispatch's Message-ID in
// In-Reply-To or References), then by the case number its subject names, if that
// names exactly one of the tenant's cases.
func (s *Service) match(ctx context.Context, tenantID string, cands []candidate) error {
	var threadIDs, numbers []string
	for _, cd := range cands {
		threadIDs = append(threadIDs, cd.env.threadIDs()...)
		numbers = append(numbers, CaseNumbers(cd.env.Subject)...)
	}
	sent, err := s.d.Answered(ctx, tenantID, threadIDs)
	if err != nil {
		return err
	}
	cases, err := s.wf.CaseIDsByNumber(ctx, tenantID, numbers)
	if err != nil {
		return err
	}
	subIDs := make([]string, 0, len(sent))
	for _, d := range sent {
		subIDs = append(subIDs, d.SubmissionID)
	}
	subCases, err := s.wf.SubmissionCases(ctx, tenantID, subIDs)
	if err != nil {
		return err
	}
	for i := range cands {
		cd := &cands[i]
		for _, id := range cd.env.threadIDs() {
			if d, ok := sent[id]; ok {
				if caseID := subCases[d.SubmissionID]; caseID != "" {
					cd.caseID, cd.dispatch, cd.submission = caseID, d.ID, d.SubmissionID
					break
				}
			}
		}
		if cd.caseID != "" {
			continue
		}
		var found []string
		for _, n := range CaseNumbers(cd.env.Subject) {
			if id, ok := cases[n]; ok {
				found = append(found, id)
			}
		}
		if len(found) == 1 {
			cd.caseID = found[0]
		}
	}
	return nil
}

// maxClockSkew is how far ahead of the import a message's Date may be (time zones and
// wrong clocks); a later one is dropped.
const maxClockSkew = 24 * time.Hour

// importOne fetches a matched message whole, into an encrypted spool, checks its
// sender and imports it.
func (s *Service) importOne(ctx context.Context, c *imapclient.Client, m *Mailbox, cd candidate, iloDomains []string) (bool, error) {
	spool, err := keys.NewSpool()
	if err != nil {
		return false, err
	}
	defer spool.Remove()
	if err := fetchBody(c, cd.uid, spool, s.opts.MaxMessageBytes); err != nil {
		return false, err
	}
	if err := spool.Finish(); err != nil {
		return false, err
	}
	msg, err := ParseMessage(spool.Reader())
	if err != nil {
		return false, err
	}
	defer msg.Close()
	a := s.opts.Verifier.Authenticate(ctx, spool.Reader(), msg.Header, m.TrustedAuthservID, iloDomains)
	if msg.SentAt != nil && msg.SentAt.After(s.now().Add(maxClockSkew)) {
		// A Date ahead of the import is the sender's say-so, not a date: unknown.
		msg.SentAt = nil
	}
	in := workflow.IncomingMessage{TenantID: m.TenantID, CaseID: cd.caseID, SubmissionID: cd.submission, DispatchID: cd.dispatch,
		MatchedBy: "case_number", MessageID: cd.env.MessageID, InReplyTo: msg.InReplyTo, References: msg.References,
		Subject: msg.Subject, Body: msg.Text, SentAt: msg.SentAt, Auth: a, Files: msg.Incoming()}
	if cd.dispatch != "" {
		in.MatchedBy = "thread"
	}
	if msg.From != nil {
		in.FromAddress, in.FromName = strings.ToLower(msg.From.Address), msg.From.Name
	}
	_, imported, err := s.wf.ImportCorrespondence(ctx, in)
	return imported, err
}

// maxEnvelopeBytes bounds what is read of a message's matching header fields: a
// References or Subject of megabytes is cut (and the rest of the literal discarded),
// never held whole, for each of a batch of up to 500 messages.
const maxEnvelopeBytes = 64 << 10

// fetchEnvelopes fetches the matching header fields of the messages (BODY.PEEK, so
// nothing is marked read), streamed: at most maxEnvelopeBytes of each is kept.
func fetchEnvelopes(c *imapclient.Client, uids []imap.UID) ([]candidate, error) {
	cmd := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{{Specifier: imap.PartSpecifierHeader, HeaderFields: headerFields, Peek: true}}})
	defer cmd.Close()
	var cands []candidate
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		var cd candidate
		var raw []byte
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				cd.uid = it.UID
			case imapclient.FetchItemDataRFC822Size:
				cd.size = it.Size
			case imapclient.FetchItemDataBodySection:
				if it.Literal == nil {
					continue
				}
				b, err := io.ReadAll(io.LimitReader(it.Literal, maxEnvelopeBytes+1))
				if err != nil {
					return nil, err
				}
				if len(b) > maxEnvelopeBytes {
					// Cut at the last whole line; msg.Next discards the rest.
					b = b[:bytes.LastIndexByte(b[:maxEnvelopeBytes], '\n')+1]
				}
				raw = b
			}
		}
		if cd.uid == 0 {
			continue
		}
		env, err := ParseEnvelope(raw)
		if err != nil {
			env = Envelope{}
		}
		if env.MessageID == "" {
			// Without a Message-ID, the header's hash names the message: the same for
			// every poller.
			sum := sha256.Sum256(raw)
			env.MessageID = "<" + hex.EncodeToString(sum[:16]) + "@no-message-id.invalid>"
		}
		cd.env = env
		cands = append(cands, cd)
	}
	return cands, cmd.Close()
}

// fetchBody streams a message's whole text (BODY.PEEK[], so it stays unread) into w:
// at most max bytes, whatever size the server announced (a *MessageError beyond).
func fetchBody(c *imapclient.Client, uid imap.UID, w io.Writer, max int64) error {
	cmd := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	defer cmd.Close()
	found := false
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		for item := msg.Next(); item != nil; item = msg.Next() {
			if b, ok := item.(imapclient.FetchItemDataBodySection); ok && b.Literal != nil {
				n, err := io.Copy(w, io.LimitReader(b.Literal, max+1))
				if err != nil {
					return err
				}
				if n > max {
					return messageErr("the message is over the limit of %d bytes", max)
				}
				found = true
			}
		}
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	if !found {
		return errors.New("the server sent no body (deleted meanwhile?)")
	}
	return nil
}

// afterImport flags or moves an imported message, as the tenant chose.
func (s *Service) afterImport(c *imapclient.Client, m *Mailbox, uid imap.UID) error {
	switch m.AfterImport {
	case AfterFlag:
		return c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{ImportedFlag}}, nil).Close()
	case AfterMove:
		_, err := c.Move(imap.UIDSetNum(uid), m.MoveTo).Wait()
		return err
	}
	return nil
}

// record saves how far a poll got and how it ended. The cursor only moves forward: two
// pollers at once (which import nothing twice) cannot move it back.
func (s *Service) record(ctx context.Context, m *Mailbox, r PollReport, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
		if len(msg) > 1000 {
			msg = msg[:1000]
		}
		s.opts.Logger.WarnContext(ctx, "mailbox poll failed", "error", msg)
	}
	now := s.now()
	upd := s.db.Conn(ctx).Model(&Mailbox{}).Where("tenant_id = ?", m.TenantID)
	fields := map[string]any{"last_polled_at": now, "last_error": strings.ToValidUTF8(msg, ""),
		"imported": gorm.Expr("imported + ?", r.Imported)}
	if e := upd.Updates(fields).Error; e != nil {
		s.opts.Logger.ErrorContext(ctx, "mailbox state not saved", "error", e)
	}
	e := s.db.Conn(ctx).Model(&Mailbox{}).Where("tenant_id = ? AND (uid_validity <> ? OR last_uid < ?)", m.TenantID, m.UIDValidity, m.LastUID).
		Updates(map[string]any{"uid_validity": m.UIDValidity, "last_uid": m.LastUID}).Error
	if e != nil {
		s.opts.Logger.ErrorContext(ctx, "mailbox cursor not saved", "error", e)
	}
}

// PollNow asks for the tenant's mailbox to be read now (reviewers, who wait for the
// ILO's answers, and tenant admins, who set it up): the answer does not wait for it;
// the settings show the outcome.
func (s *Service) PollNow(ctx context.Context, a *auth.TenantAccess) error {
	// settings:read: tenant admins and reviewers. Reading the mailbox changes nothing
	// of the tenant's but the correspondence it imports.
	if err := a.Require(auth.PermSettingsRead); err != nil {
		return err
	}
	m, err := s.load(ctx, a.Tenant.ID)
	if err != nil {
		return err
	}
	if m == nil || !m.Enabled {
		return &apperr.Error{Kind: apperr.KindConflict, Code: apperr.CodeMailboxDisabled, Message: "no enabled mailbox is configured"}
	}
	_, err = s.d.Queue().Insert(ctx, PollArgs{TenantID: a.Tenant.ID}, pollInsertOpts())
	return err
}

// PollArgs is one poll of one tenant's mailbox.
type PollArgs struct {
	TenantID string `json:"tenant_id"`
}

// Kind names the job for River.
func (PollArgs) Kind() string { return "mailbox_poll" }

// QueueName is the queue mailbox polls run in: a slow mail server never delays a letter.
const QueueName = "mailbox"

// pollInsertOpts: one poll per tenant waiting or running at a time; the unique index
// on Message-IDs makes overlapping polls harmless anyway.
func pollInsertOpts() *river.InsertOpts {
	return &river.InsertOpts{Queue: QueueName, MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true,
		ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
			rivertype.JobStateScheduled, rivertype.JobStateRetryable}}}
}

type pollWorker struct {
	river.WorkerDefaults[PollArgs]
	s *Service
}

// Work polls one mailbox. A failure is recorded on the mailbox (and the next period
// tries again), not retried at once.
func (w *pollWorker) Work(ctx context.Context, job *river.Job[PollArgs]) error {
	r, err := w.s.Poll(ctx, job.Args.TenantID)
	w.s.opts.Logger.InfoContext(ctx, "mailbox polled", "tenant_id", job.Args.TenantID, "seen", r.Seen, "imported", r.Imported, "ok", err == nil)
	return nil
}

// Timeout bounds the job a little above the poll's own timeout.
func (w *pollWorker) Timeout(*river.Job[PollArgs]) time.Duration {
	return w.s.opts.Timeout + 30*time.Second
}

// PollAllArgs is the periodic job that enqueues a poll of every enabled mailbox.
type PollAllArgs struct{}

// Kind names the job for River.
func (PollAllArgs) Kind() string { return "mailbox_poll_all" }

type pollAllWorker struct {
	river.WorkerDefaults[PollAllArgs]
	s *Service
}

// Work enqueues one poll per enabled mailbox.
func (w *pollAllWorker) Work(ctx context.Context, _ *river.Job[PollAllArgs]) error {
	var tenants []string
	if err := w.s.db.Conn(ctx).Model(&Mailbox{}).Where("enabled = ?", true).Order("tenant_id").Pluck("tenant_id", &tenants).Error; err != nil {
		return err
	}
	for _, t := range tenants {
		if _, err := w.s.d.Queue().Insert(ctx, PollArgs{TenantID: t}, pollInsertOpts()); err != nil {
			return err
		}
	}
	return nil
}

// Register adds the workers to the queue client's workers.
func (s *Service) Register(workers *river.Workers) error {
	if err := river.AddWorkerSafely(workers, &pollWorker{s: s}); err != nil {
		return err
	}
	return river.AddWorkerSafely(workers, &pollAllWorker{s: s})
}

// QueueConfig is the configuration of the polls' queue.
func (s *Service) QueueConfig() river.QueueConfig { return river.QueueConfig{MaxWorkers: 2} }

// PeriodicJobs is the job that polls every mailbox every PollEvery, once across
// processes (River's leader runs periodic jobs; the period makes it unique).
func (s *Service) PeriodicJobs() []*river.PeriodicJob {
	every := s.opts.PollEvery
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return PollAllArgs{}, &river.InsertOpts{Queue: QueueName, MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByPeriod: every}}
	}, &river.PeriodicJobOpts{ID: "mailbox_poll_all"})}
}

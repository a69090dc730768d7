package dispatch

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/storage"
)

// Evidence too large for the e-mail goes as download links (ADR 0029). The files are
// encrypted at rest, so a bucket's presigned URL would hand out ciphertext: the link is
// the portal's own, GET /api/v1/evidence/{token}, which needs no account (the ILO has
// none) and serves the copy the e-mail would have attached, decrypted, for linkLifetime.
// The token names the dispatch, the file and the expiry, signed with HMAC-SHA256 under
// a key derived from the installation's secret key, so every process verifies it and no
// table is needed; it cannot be forged or stretched, and it opens nothing else.

// linkLifetime is how long an evidence link works, as the e-mail says.
const linkLifetime = 7 * 24 * time.Hour

// linkKey derives the links' signing key from the configured secret, or makes a random
// one (links then work only in this process: tests and single-process trials).
func linkKey(secret []byte) []byte {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			panic(err)
		}
	}
	k, err := hkdf.Key(sha256.New, secret, nil, "unionportal evidence links v1", 32)
	if err != nil {
		panic(err)
	}
	return k
}

func (s *Service) linkMAC(payload string) []byte {
	m := hmac.New(sha256.New, s.linkKey)
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// evidenceLink is the URL of a download link for evidence file attachmentID of
// dispatch d, valid until expires.
func (s *Service) evidenceLink(d *Dispatch, attachmentID string, expires time.Time) string {
	payload := d.ID + "/" + attachmentID + "/" + strconv.FormatInt(expires.Unix(), 10)
	token := base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(s.linkMAC(payload))
	return strings.TrimRight(s.opts.BaseURL.String(), "/") + "/api/v1/evidence/" + token
}

// LinkedEvidence is the file a download link gives.
type LinkedEvidence struct {
	FileName    string
	ContentType string
	// SHA256 is the hash of the bytes served (the cleaned copy's, when cleaned).
	SHA256 string
	Object storage.Object
}

// OpenEvidenceLink checks a download link's token and opens the file it names, as the
// e-mail would have attached it. A token that is malformed or not signed by this
// installation is not_found; one past its time is link_expired (410). Each download is
// recorded in the tenant's audit trail.
func (s *Service) OpenEvidenceLink(ctx context.Context, token, ip string) (*LinkedEvidence, error) {
	dispatchID, attachmentID, expires, ok := s.parseLink(token)
	if !ok {
		return nil, apperr.NotFound("link")
	}
	if s.opts.Now().After(expires) {
		return nil, apperr.New(apperr.KindGone, apperr.CodeLinkExpired,
			"this download link has expired; ask the sender for the evidence again")
	}
	var d Dispatch
	if err := s.db.Conn(ctx).Where("id = ?", dispatchID).First(&d).Error; err != nil {
		return nil, apperr.NotFound("link")
	}
	evidence, err := s.wf.EvidenceFor(ctx, d.TenantID, d.SubmissionID, d.Revision)
	if err != nil {
		return nil, err
	}
	for _, e := range evidence {
		if e.ID != attachmentID {
			continue
		}
		// The cleaned copy kept beside the letter, or the file itself when it had no
		// identifying metadata to remove.
		out := &LinkedEvidence{FileName: e.FileName, ContentType: e.ContentType, SHA256: e.SHA256}
		cleaned := keys.SealedKey(storage.DispatchEvidenceKey(d.TenantID, d.ID, e.ID))
		obj, err := s.files.Open(ctx, d.TenantID, d.SubmissionID, cleaned)
		if errors.Is(err, storage.ErrNotExist) {
			obj, err = s.files.Open(ctx, d.TenantID, d.SubmissionID, e.ObjectKey)
		} else if err == nil {
			out.SHA256 = ""
		}
		if err != nil {
			return nil, s.wf.StoredFileError(ctx, d.TenantID, d.SubmissionID, "attachments", e.ID, err)
		}
		out.Object = obj
		if _, err := audit.Record(ctx, s.db, audit.Entry{TenantID: d.TenantID, IP: ip, Action: "evidence.link_downloaded",
			ObjectType: "submission", ObjectID: d.SubmissionID, At: s.opts.Now(),
			Details: map[string]any{"dispatch_id": d.ID, "attachment_id": e.ID}}); err != nil {
			obj.Close()
			return nil, err
		}
		return out, nil
	}
	return nil, apperr.NotFound("link")
}

// parseLink checks a token's signature and reads what it names.
func (s *Service) parseLink(token string) (dispatchID, attachmentID string, expires time.Time, ok bool) {
	p, m, found := strings.Cut(token, ".")
	if !found || len(token) > 512 {
		return "", "", time.Time{}, false
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p)
	mac, err2 := base64.RawURLEncoding.DecodeString(m)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, s.linkMAC(string(payload))) {
		return "", "", time.Time{}, false
	}
	parts := strings.Split(string(payload), "/")
	if len(parts) != 3 || !database.ValidID(parts[0]) || !database.ValidID(parts[1]) {
		return "", "", time.Time{}, false
	}
	unix, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return "", "", time.Time{}, false
	}
	return parts[0], parts[1], time.Unix(unix, 0), true
}

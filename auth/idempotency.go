package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"time"
)

// The idempotency_keys table is auth's: a key belongs to a user (the principal, whether
// a session or one of the user's tokens sent it). The api package's middleware is its
// only caller; see ADR 0022.

// IdempotencyTTL is how long a key is remembered after the first request that used it.
const IdempotencyTTL = 24 * time.Hour

// IdempotencyLease is how long a running request holds its key. A process that dies
// mid-request cannot release it; after the lease another request may take the key over.
const IdempotencyLease = time.Hour

// ErrIdempotencyInProgress reports that another request with the same key is running.
var ErrIdempotencyInProgress = errors.New("auth: a request with this idempotency key is running")

// StoredResponse is the response kept for a key, and what a repetition compares.
type StoredResponse struct {
	// Fingerprint identifies the request (method, path, media type and body); BodyBytes
	// is the length of the body as hashed.
	Fingerprint string
	BodyBytes   int64
	Status      int
	Header      map[string]string
	Body        []byte
}

// IdempotencyClaim is a running request's hold on its key.
type IdempotencyClaim struct {
	userID, key, attempt string
}

type idempotencyKey struct {
	UserID      string
	IdemKey     string
	Attempt     string
	State       string
	StartedAt   time.Time
	ExpiresAt   time.Time
	Fingerprint string
	BodyBytes   int64
	Status      int
	Headers     string
	Body        []byte
}

func (idempotencyKey) TableName() string { return "idempotency_keys" }

// BeginIdempotent claims key for userID. It returns a claim when the caller is to run
// the request (no live row existed, or the row was expired or its holder's lease had
// run out), the stored response when a request with this key has finished, or
// ErrIdempotencyInProgress when one is running. The primary key (user, key) makes two
// concurrent calls safe on both databases: one inserts, the other reads its row.
func (s *Service) BeginIdempotent(ctx context.Context, userID, key string) (*IdempotencyClaim, *StoredResponse, error) {
	conn := s.db.Conn(ctx)
	for range 3 {
		now := s.now()
		attempt := newID()
		res := conn.Exec("INSERT INTO idempotency_keys (user_id, idem_key, attempt, state, started_at, expires_at) "+
			"VALUES (?, ?, ?, 'running', ?, ?) ON CONFLICT (user_id, idem_key) DO NOTHING",
			userID, key, attempt, now, now.Add(IdempotencyTTL))
		if res.Error != nil {
			return nil, nil, res.Error
		}
		if res.RowsAffected == 1 {
			return &IdempotencyClaim{userID: userID, key: key, attempt: attempt}, nil, nil
		}
		var rows []idempotencyKey
		if err := conn.Where("user_id = ? AND idem_key = ?", userID, key).Limit(1).Find(&rows).Error; err != nil {
			return nil, nil, err
		}
		if len(rows) == 0 {
			continue // released meanwhile: try to insert again
		}
		row := rows[0]
		expired := !now.Before(row.ExpiresAt)
		abandoned := row.State == "running" && !now.Before(row.StartedAt.Add(IdempotencyLease))
		if expired || abandoned {
			// Take the row over, unless another request took it first.
			res := conn.Model(&idempotencyKey{}).Where("user_id = ? AND idem_key = ? AND attempt = ?", userID, key, row.Attempt).
				Updates(map[string]any{"attempt": attempt, "state": "running", "started_at": now, "expires_at": now.Add(IdempotencyTTL),
					"fingerprint": "", "body_bytes": 0, "status": 0, "headers": "{}", "body": nil})
			if res.Error != nil {
				return nil, nil, res.Error
			}
			if res.RowsAffected == 1 {
				return &IdempotencyClaim{userID: userID, key: key, attempt: attempt}, nil, nil
			}
			continue
		}
		if row.State == "running" {
			return nil, nil, ErrIdempotencyInProgress
		}
		stored, err := s.openStored(row)
		return nil, stored, err
	}
	return nil, nil, ErrIdempotencyInProgress
}

// FinishIdempotent stores the response of the claimed request, for repetitions to replay.
func (s *Service) FinishIdempotent(ctx context.Context, c *IdempotencyClaim, r StoredResponse) error {
	headers, err := json.Marshal(r.Header)
	if err != nil {
		return err
	}
	body, err := s.sealResponse(r.Body, c)
	if err != nil {
		return err
	}
	return s.db.Conn(ctx).Model(&idempotencyKey{}).Where("user_id = ? AND idem_key = ? AND attempt = ?", c.userID, c.key, c.attempt).
		Updates(map[string]any{"state": "done", "fingerprint": r.Fingerprint, "body_bytes": r.BodyBytes,
			"status": r.Status, "headers": string(headers), "body": body}).Error
}

// AbandonIdempotent releases the key of a claimed request that failed (a server fault,
// a panic, a client gone): the next request with the key runs again.
func (s *Service) AbandonIdempotent(ctx context.Context, c *IdempotencyClaim) error {
	return s.db.Conn(ctx).Where("user_id = ? AND idem_key = ? AND attempt = ?", c.userID, c.key, c.attempt).
		Delete(&idempotencyKey{}).Error
}

// SweepIdempotencyKeys deletes the keys that expired, and returns how many.
func (s *Service) SweepIdempotencyKeys(ctx context.Context) (int64, error) {
	res := s.db.Conn(ctx).Where("expires_at <= ?", s.now()).Delete(&idempotencyKey{})
	return res.RowsAffected, res.Error
}

func (s *Service) openStored(row idempotencyKey) (*StoredResponse, error) {
	out := &StoredResponse{Fingerprint: row.Fingerprint, BodyBytes: row.BodyBytes, Status: row.Status}
	if err := json.Unmarshal([]byte(row.Headers), &out.Header); err != nil {
		return nil, err
	}
	body, err := s.openResponse(row.Body, row.UserID, row.IdemKey)
	if err != nil {
		return nil, err
	}
	out.Body = body
	return out, nil
}

// Stored bodies are encrypted (AES-256-GCM, a key derived from the secret key, the user
// and the idempotency key as additional data): a response may hold a secret shown once,
// such as a new API token, which the database must not reveal.
func (s *Service) responseCipher() (cipher.AEAD, error) {
	m := hmac.New(sha256.New, s.opts.SecretKey)
	m.Write([]byte("idempotency-response"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (s *Service) sealResponse(body []byte, c *IdempotencyClaim) ([]byte, error) {
	aead, err := s.responseCipher()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, body, []byte(c.userID+"\x00"+c.key)), nil
}

func (s *Service) openResponse(sealed []byte, userID, key string) ([]byte, error) {
	aead, err := s.responseCipher()
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("auth: stored idempotent response is truncated")
	}
	return aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], []byte(userID+"\x00"+key))
}

// Package audit owns the audit trail: events written in the transaction of the change
// they record, chained per tenant with SHA-256 so that an edited, deleted or reordered
// row is detected, and the verifier that walks a chain.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/unionportal/unionportal/clientip"
	"github.com/unionportal/unionportal/database"
)

// PlatformChain is the chain of events that belong to no tenant (logins, tokens).
const PlatformChain = ""

// Event is one entry of the audit trail.
type Event struct {
	ID         int64   `json:"id"`
	Chain      string  `json:"-"`
	Seq        int64   `json:"seq"`
	TenantID   *string `json:"tenant_id"`
	ActorID    *string `json:"actor_id"`
	Action     string  `json:"action"`
	ObjectType string  `json:"object_type"`
	ObjectID   string  `json:"object_id"`
	// IP is where the actor acted from, as much of it as UNIONPORTAL_IP_RETENTION kept
	// when the event was written (a network such as 203.0.113.0/24 by default); shown
	// to tenant admins and superadmins only.
	IP        string    `json:"ip,omitempty"`
	Details   string    `json:"details"`
	CreatedAt time.Time `json:"created_at"`
	PrevHash  string    `json:"-"`
	Hash      string    `json:"hash"`
}

// TableName is the events table.
func (Event) TableName() string { return "events" }

type chainHead struct {
	Chain string `gorm:"primaryKey"`
	Seq   int64
	Hash  string
}

func (chainHead) TableName() string { return "event_chain_heads" }

// Entry is what a caller records; Record fills in the chain fields.
type Entry struct {
	TenantID string // "" for a platform event
	ActorID  string // "" when nobody is logged in
	// IP is the client's address (or a process marker such as "cli"); Record stores
	// only what the retention carried by ctx allows (clientip).
	IP         string
	Action     string
	ObjectType string
	ObjectID   string
	Details    map[string]any
	At         time.Time
}

// Record appends an event to its tenant's chain in the transaction carried by ctx (or
// in one of its own). Writers of one chain take turns on the chain's head row. Of the
// entry's address it keeps what ctx's retention allows (clientip.From), so no caller
// can store more.
func Record(ctx context.Context, db *database.DB, in Entry) (*Event, error) {
	details := "{}"
	if len(in.Details) > 0 {
		b, err := json.Marshal(in.Details)
		if err != nil {
			return nil, err
		}
		details = string(b)
	}
	e := Event{Chain: in.TenantID, Action: in.Action, ObjectType: in.ObjectType, ObjectID: in.ObjectID,
		IP: clientip.KeepIn(ctx, in.IP), Details: details, CreatedAt: in.At.UTC().Truncate(time.Microsecond)}
	if in.TenantID != "" {
		e.TenantID = &in.TenantID
	}
	if in.ActorID != "" {
		e.ActorID = &in.ActorID
	}
	err := db.WithTx(ctx, func(ctx context.Context) error {
		tx := db.Conn(ctx)
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&chainHead{Chain: e.Chain}).Error; err != nil {
			return err
		}
		q := tx.Where("chain = ?", e.Chain)
		if db.Dialect() == database.Postgres {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		var head chainHead
		if err := q.First(&head).Error; err != nil {
			return err
		}
		e.Seq, e.PrevHash = head.Seq+1, head.Hash
		e.Hash = Hash(e)
		if err := tx.Create(&e).Error; err != nil {
			return err
		}
		return tx.Model(&chainHead{}).Where("chain = ?", e.Chain).Updates(map[string]any{"seq": e.Seq, "hash": e.Hash}).Error
	})
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// Hash is SHA-256 over the previous hash and the canonical content of e.
func Hash(e Event) string {
	canonical, _ := json.Marshal(struct {
		Prev       string  `json:"prev"`
		Chain      string  `json:"chain"`
		Seq        int64   `json:"seq"`
		TenantID   *string `json:"tenant_id"`
		ActorID    *string `json:"actor_id"`
		Action     string  `json:"action"`
		ObjectType string  `json:"object_type"`
		ObjectID   string  `json:"object_id"`
		IP         string  `json:"ip"`
		Details    string  `json:"details"`
		CreatedAt  string  `json:"created_at"`
	}{e.PrevHash, e.Chain, e.Seq, e.TenantID, e.ActorID, e.Action, e.ObjectType, e.ObjectID, e.IP, e.Details,
		e.CreatedAt.UTC().Format(time.RFC3339Nano)})
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}

// Break describes the first broken link of a chain.
type Break struct {
	Chain   string
	Seq     int64 // the sequence number where the chain breaks
	EventID int64 // the row found there, 0 if it is missing
	Reason  string
}

func (b *Break) Error() string {
	chain := b.Chain
	if chain == PlatformChain {
		chain = "platform"
	}
	if b.EventID == 0 {
		return fmt.Sprintf("chain %s: event %d: %s", chain, b.Seq, b.Reason)
	}
	return fmt.Sprintf("chain %s: event %d (row id %d): %s", chain, b.Seq, b.EventID, b.Reason)
}

// Verify walks one chain from its first event and returns the first broken link, or
// nil when every event is intact, in order, and none is missing at the end.
func Verify(ctx context.Context, db *database.DB, chain string) (*Break, int64, error) {
	var head chainHead
	err := db.Conn(ctx).Where("chain = ?", chain).First(&head).Error
	headMissing := errors.Is(err, gorm.ErrRecordNotFound)
	if err != nil && !headMissing {
		return nil, 0, err
	}
	const batch = 1000
	prev, want := "", int64(1)
	for {
		var rows []Event
		if err := db.Conn(ctx).Where("chain = ? AND seq >= ?", chain, want).Order("seq").Limit(batch).Find(&rows).Error; err != nil {
			return nil, 0, err
		}
		for _, e := range rows {
			switch {
			case e.Seq != want:
				return &Break{Chain: chain, Seq: want, Reason: fmt.Sprintf("missing (deleted?); the next row has sequence number %d", e.Seq)}, want - 1, nil
			case e.PrevHash != prev:
				return &Break{Chain: chain, Seq: e.Seq, EventID: e.ID, Reason: "does not link to the event before it (reordered, or the one before was edited)"}, want - 1, nil
			case Hash(e) != e.Hash:
				return &Break{Chain: chain, Seq: e.Seq, EventID: e.ID, Reason: "its content does not match its hash (edited)"}, want - 1, nil
			}
			prev, want = e.Hash, want+1
		}
		if len(rows) < batch {
			break
		}
	}
	if headMissing && want > 1 {
		return &Break{Chain: chain, Seq: want, Reason: "the chain's head row is missing (deleted?)"}, want - 1, nil
	}
	if head.Seq >= want || (head.Seq == want-1 && head.Hash != prev) {
		return &Break{Chain: chain, Seq: want, Reason: fmt.Sprintf("missing (deleted?); the chain's head records %d events", head.Seq)}, want - 1, nil
	}
	b, err := checkAnchor(ctx, db, chain, want-1)
	if err != nil || b != nil {
		return b, want - 1, err
	}
	return nil, want - 1, nil
}

// Chains lists every chain that has, or is known to have had, events: "" (the
// platform) and tenant ids. A chain counts when it has a head row, any event, or an
// anchor, so deleting one of them does not hide it from Verify.
func Chains(ctx context.Context, db *database.DB) ([]string, error) {
	var chains []string
	err := db.Conn(ctx).Raw(`SELECT chain FROM event_chain_heads
		UNION SELECT DISTINCT chain FROM events
		UNION SELECT DISTINCT object_id FROM events WHERE chain = ? AND object_type = ? AND action = ?
		ORDER BY 1`, PlatformChain, anchorObject, AnchorAction).Find(&chains).Error
	return chains, err
}

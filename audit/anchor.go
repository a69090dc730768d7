package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gorm.io/gorm"

	"github.com/unionportal/unionportal/database"
)

// AnchorAction is the platform event that records the head of a tenant's chain. A
// tenant chain rewound to before its last anchor (its newest events deleted and its head
// row set back) no longer reaches the anchored event, and Verify says so. Anchors are
// also logged, so a copy of them lives outside the database.
const AnchorAction = "audit.anchor"

// anchorObject is the object type of anchor events; their object id is the chain.
const anchorObject = "event_chain"

type anchorDetails struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

// Anchor records in the platform chain the head of every tenant chain that moved since
// its last anchor, and returns how many it recorded. Running it in several processes
// at once is harmless: an anchor recorded twice says the same thing twice.
func Anchor(ctx context.Context, db *database.DB, log *slog.Logger) (int, error) {
	var heads []chainHead
	if err := db.Conn(ctx).Where("chain <> ?", PlatformChain).Order("chain").Find(&heads).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, h := range heads {
		last, err := lastAnchor(ctx, db, h.Chain)
		if err != nil {
			return n, err
		}
		if last != nil && last.Seq == h.Seq && last.Hash == h.Hash {
			continue
		}
		if _, err := Record(ctx, db, Entry{Action: AnchorAction, ObjectType: anchorObject, ObjectID: h.Chain, IP: "audit",
			Details: map[string]any{"seq": h.Seq, "hash": h.Hash}, At: time.Now()}); err != nil {
			return n, err
		}
		if log != nil {
			log.Info("audit anchor", "chain", h.Chain, "seq", h.Seq, "hash", h.Hash)
		}
		n++
	}
	return n, nil
}

// lastAnchor is the newest anchor of chain in the platform chain, or nil.
func lastAnchor(ctx context.Context, db *database.DB, chain string) (*anchorDetails, error) {
	var e Event
	err := db.Conn(ctx).Where("chain = ? AND object_type = ? AND object_id = ? AND action = ?", PlatformChain, anchorObject, chain, AnchorAction).
		Order("seq DESC").First(&e).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d anchorDetails
	if err := json.Unmarshal([]byte(e.Details), &d); err != nil {
		return nil, fmt.Errorf("anchor event %d: %w", e.ID, err)
	}
	return &d, nil
}

// checkAnchor compares a tenant chain that verified intact up to seq n with its last
// anchor.
func checkAnchor(ctx context.Context, db *database.DB, chain string, n int64) (*Break, error) {
	if chain == PlatformChain {
		return nil, nil
	}
	a, err := lastAnchor(ctx, db, chain)
	if err != nil || a == nil {
		return nil, err
	}
	if a.Seq > n {
		return &Break{Chain: chain, Seq: n + 1, Reason: fmt.Sprintf(
			"missing (deleted, and the chain's head rewound?); the platform chain anchored this chain at %d events", a.Seq)}, nil
	}
	var e Event
	if err := db.Conn(ctx).Where("chain = ? AND seq = ?", chain, a.Seq).First(&e).Error; err != nil {
		return nil, err
	}
	if e.Hash != a.Hash {
		return &Break{Chain: chain, Seq: a.Seq, EventID: e.ID, Reason: "differs from the event the platform chain anchored (the chain was rewritten)"}, nil
	}
	return nil, nil
}

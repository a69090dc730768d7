package audit

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/unionportal/unionportal/database"
)

// accountActions are the platform events (no tenant) that a tenant's audit view shows
// about its members: changes of the factors that guard their accounts. Logins, logouts
// and API tokens are not among them: they say when and from where a person works, for
// whichever of their tenants, which is no one tenant's business (ADR 0033). Second
// factors record second_factor.created, .activated, .removed and .reset (by an
// operator), and recovery_codes.generated (ADR 0032); an account event is shown only
// once it is named here.
var accountActions = []string{
	"password.changed",
	"second_factor.created", "second_factor.activated", "second_factor.removed", "second_factor.reset",
	"second_factor.clone_suspected", "recovery_codes.generated",
}

// AccountActions lists the platform events a tenant's audit view shows about its
// members.
func AccountActions() []string { return append([]string(nil), accountActions...) }

// Subquery is SQL with its arguments, written by the package that owns its tables.
type Subquery struct {
	SQL  string
	Args []any
}

// Filter selects the events of a tenant's audit view. Empty fields select everything.
type Filter struct {
	TenantID string
	// ActorID: only what this user did.
	ActorID string
	// Action: this action, or with a final "." (submission.) every action it begins.
	Action string
	// SubmissionID: only events about this submission.
	SubmissionID string
	// Since (included) and Until (excluded) bound the events' times.
	Since, Until time.Time
	// Members, when set, adds the platform events of AccountActions about the tenant's
	// members (done by them, or to their account), from when they joined: a subquery
	// giving user_id and since, written by the owner of memberships.
	Members *Subquery
}

// List returns one page of the view, newest first, and the next page's cursor (the row
// id of its last event; "" after the last page). Events are read in the order they were
// written, across the tenant's chain and the platform chain, by row id.
func List(ctx context.Context, db *database.DB, f Filter, p database.Page) ([]Event, string, error) {
	sql, args := f.query(p.After, p.Limit+1)
	var rows []Event
	if err := db.Conn(ctx).Raw(sql+" ORDER BY id DESC LIMIT ?", append(args, p.Limit+1)...).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	rows, next := database.Trim(rows, p, func(e Event) []string { return []string{strconv.FormatInt(e.ID, 10)} })
	return rows, next, nil
}

// Window looks ahead of a page of n events after the cursor after: it returns the row
// id of the page's last event (0 when the view has no event there) and whether another
// follows it, so that a file of n events can say before it is written whether there is
// a next one.
func Window(ctx context.Context, db *database.DB, f Filter, after []string, n int) (last int64, more bool, err error) {
	sql, args := f.query(after, n+1)
	var ids []int64
	if err := db.Conn(ctx).Raw("SELECT id FROM ("+sql+") w ORDER BY id DESC LIMIT 2 OFFSET ?", append(args, n-1)...).Find(&ids).Error; err != nil {
		return 0, false, err
	}
	if len(ids) == 0 {
		// Fewer than n events: the page ends with the view.
		return 0, false, nil
	}
	return ids[0], len(ids) > 1, nil
}

// query is the view as a SELECT of events rows after the cursor, each part limited to
// limit rows (the caller orders and limits the whole).
func (f Filter) query(after []string, limit int) (string, []any) {
	var cond []string
	var args []any
	if f.ActorID != "" {
		cond, args = append(cond, "e.actor_id = ?"), append(args, f.ActorID)
	}
	switch {
	case strings.HasSuffix(f.Action, "."):
		cond, args = append(cond, `e.action LIKE ? ESCAPE '\'`), append(args, likePrefix(f.Action))
	case f.Action != "":
		cond, args = append(cond, "e.action = ?"), append(args, f.Action)
	}
	if f.SubmissionID != "" {
		cond, args = append(cond, "e.object_type = 'submission' AND e.object_id = ?"), append(args, f.SubmissionID)
	}
	if !f.Since.IsZero() {
		cond, args = append(cond, "e.created_at >= ?"), append(args, f.Since.UTC())
	}
	if !f.Until.IsZero() {
		cond, args = append(cond, "e.created_at < ?"), append(args, f.Until.UTC())
	}
	if len(after) == 1 {
		id, _ := strconv.ParseInt(after[0], 10, 64) // checked by the cursor's kind
		cond, args = append(cond, "e.id < ?"), append(args, id)
	}
	where := ""
	for _, c := range cond {
		where += " AND " + c
	}
	sql := "SELECT * FROM (SELECT e.* FROM events e WHERE e.tenant_id = ?" + where + " ORDER BY e.id DESC LIMIT ?) t"
	out := append(append([]any{f.TenantID}, args...), limit)
	if f.Members == nil || f.SubmissionID != "" {
		return sql, out
	}
	// A member's own account events, and those done to their account by someone else
	// (a superadmin resetting a factor); UNION drops the one found both ways.
	actions := "e.action IN (?" + strings.Repeat(", ?", len(accountActions)-1) + ")"
	var actionArgs []any
	for _, a := range accountActions {
		actionArgs = append(actionArgs, a)
	}
	for _, join := range []string{"e.actor_id = m.user_id", "e.object_type = 'user' AND e.object_id = CAST(m.user_id AS TEXT)"} {
		sql += " UNION SELECT * FROM (SELECT e.* FROM (" + f.Members.SQL + ") m JOIN events e ON " + join +
			" AND e.created_at >= m.since WHERE e.chain = '' AND " + actions + where + " ORDER BY e.id DESC LIMIT ?) p"
		out = append(append(append(append(out, f.Members.Args...), actionArgs...), args...), limit)
	}
	return sql, out
}

// likePrefix is a LIKE pattern matching what begins with prefix.
func likePrefix(prefix string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(prefix) + "%"
}

// exportBatch is how many events an export reads at a time.
const exportBatch = 500

// Export is one file of the view: at most a given number of events after a cursor,
// read in batches as they are written out, so that its memory does not grow with it.
type Export struct {
	db    *database.DB
	f     Filter
	after []string
	// last is the row id of the file's last event; 0 when the view ends first.
	last int64
	// Next is the cursor of the next file, or "" when this one reaches the view's end.
	Next string
}

// NewExport prepares a file of at most n events of the view after the cursor after.
func NewExport(ctx context.Context, db *database.DB, f Filter, after []string, n int) (*Export, error) {
	last, more, err := Window(ctx, db, f, after, n)
	if err != nil {
		return nil, err
	}
	x := &Export{db: db, f: f, after: after, last: last}
	if more {
		x.Next = database.Cursor(strconv.FormatInt(last, 10))
	}
	return x, nil
}

// Each calls fn with every event of the file, newest first.
func (x *Export) Each(ctx context.Context, fn func(Event) error) error {
	after := x.after
	for {
		rows, next, err := List(ctx, x.db, x.f, database.Page{Limit: exportBatch, After: after})
		if err != nil {
			return err
		}
		for _, e := range rows {
			if e.ID < x.last {
				return nil
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		after = []string{strconv.FormatInt(rows[len(rows)-1].ID, 10)}
	}
}

package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"sort"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/database"
)

// Login limits. Every password check (a login, or the current password when changing
// it) first counts one attempt, atomically, against two counters: the pair (address,
// account) and the address alone. The first loginFreePerAccount attempts of a pair and
// loginFreePerAddress attempts of an address are free; after that each further attempt
// waits loginBackoffBase, doubled for every failure beyond the free ones, at most
// loginBackoffMax. A successful login clears its pair and takes its own attempt off the
// address. Counters are forgotten loginForget after their last attempt.
//
// An account is never limited as a whole: failures from one address do not stop the
// right password from another, so nobody can lock a reviewer out from elsewhere.
const (
	loginFreePerAccount = 5
	loginFreePerAddress = 20
	loginBackoffBase    = 30 * time.Second
	loginBackoffMax     = 15 * time.Minute
	loginForget         = time.Hour
)

// loginLimit is one counter. KeyHash is an HMAC of what it counts under the secret
// key, so the table holds neither addresses nor e-mail addresses, nor a hash that could
// be reversed by trying every address without the key (ADR 0033). The counters work on
// the whole address, whatever UNIONPORTAL_IP_RETENTION says, and live an hour.
type loginLimit struct {
	KeyHash  string `gorm:"primaryKey"`
	Failures int
	LastAt   time.Time
}

func (loginLimit) TableName() string { return "login_limits" }

// loginKeys are the counters an attempt on email from ip counts against: the pair, then
// the address.
func (s *Service) loginKeys(email, ip string) (pair, address string) {
	h := func(parts ...string) string {
		m := hmac.New(sha256.New, s.opts.SecretKey)
		m.Write([]byte("login-limit"))
		for _, p := range parts {
			m.Write([]byte{0})
			m.Write([]byte(p))
		}
		return hex.EncodeToString(m.Sum(nil))
	}
	return h("pair", ip, email), h("address", ip)
}

// loginBackoff is how long after its last attempt a counter with failures allows the
// next one.
func loginBackoff(failures, free int) time.Duration {
	if failures < free {
		return 0
	}
	wait := loginBackoffBase
	for i := free; i < failures && wait < loginBackoffMax; i++ {
		wait *= 2
	}
	return min(wait, loginBackoffMax)
}

// LoginQuota is what is left of the login limits after an attempt, for the RateLimit
// headers (draft-ietf-httpapi-ratelimit-headers): the free attempts left to the pair
// (address, account) and to the address, and the seconds until each starts afresh.
type LoginQuota struct {
	AccountRemaining, AddressRemaining int
	AccountReset, AddressReset         int
	counted                            bool
}

// LoginPolicy describes the limits for the RateLimit-Policy header: the free attempts
// of a pair and of an address, per window (seconds).
func LoginPolicy() (perAccount, perAddress, window int) {
	return loginFreePerAccount, loginFreePerAddress, int(loginForget.Seconds())
}

type quotaKey struct{}

// TrackLoginQuota returns a context in which the next login attempt records its quota
// into q (q.Counted reports whether it did).
func TrackLoginQuota(ctx context.Context) (context.Context, *LoginQuota) {
	q := &LoginQuota{}
	return context.WithValue(ctx, quotaKey{}, q), q
}

// Counted reports whether an attempt recorded the quota.
func (q *LoginQuota) Counted() bool { return q.counted }

// prunes counts reservations, so that old counters are deleted now and then.
var prunes atomic.Uint64

// reserveLogin counts one attempt on email from ip before any password is checked, in
// a transaction of its own that locks both counters (SELECT … FOR UPDATE on
// PostgreSQL; SQLite's write transactions are serialised already). Concurrent attempts
// therefore see each other: however many arrive at once, only the free ones get a
// password check. A refused attempt is not counted, so waiting is never extended by
// trying; it answers 429 with the seconds to wait.
func (s *Service) reserveLogin(ctx context.Context, email, ip string) error {
	pair, address := s.loginKeys(email, ip)
	free := map[string]int{pair: loginFreePerAccount, address: loginFreePerAddress}
	keys := []string{pair, address}
	sort.Strings(keys) // one lock order, so two attempts never deadlock
	now := s.now()
	err := s.db.WithTx(ctx, func(ctx context.Context) error {
		conn := s.db.Conn(ctx)
		var wait time.Duration
		rows := make([]loginLimit, len(keys))
		for i, k := range keys {
			if err := conn.Exec("INSERT INTO login_limits (key_hash, failures, last_at) VALUES (?, 0, ?) ON CONFLICT (key_hash) DO NOTHING", k, now).Error; err != nil {
				return err
			}
			q := conn.Where("key_hash = ?", k)
			if s.db.Dialect() == database.Postgres {
				q = q.Clauses(clause.Locking{Strength: "UPDATE"})
			}
			if err := q.First(&rows[i]).Error; err != nil {
				return err
			}
			if now.Sub(rows[i].LastAt) >= loginForget {
				rows[i].Failures = 0
			}
			wait = max(wait, rows[i].LastAt.Add(loginBackoff(rows[i].Failures, free[k])).Sub(now))
		}
		if q, ok := ctx.Value(quotaKey{}).(*LoginQuota); ok {
			for i, k := range keys {
				// What is left after this attempt (a refused one does not count); a counter
				// out of free attempts starts afresh when its wait is over, else an hour
				// after its last attempt.
				used := rows[i].Failures
				if wait <= 0 {
					used++
				}
				left, reset := max(0, free[k]-used), int(loginForget.Seconds())
				if own := rows[i].LastAt.Add(loginBackoff(rows[i].Failures, free[k])).Sub(now); own > 0 {
					reset = int(math.Ceil(own.Seconds()))
				}
				if k == pair {
					q.AccountRemaining, q.AccountReset = left, reset
				} else {
					q.AddressRemaining, q.AddressReset = left, reset
				}
			}
			q.counted = true
		}
		if wait > 0 {
			secs := int(math.Ceil(wait.Seconds()))
			return (&apperr.Error{Kind: apperr.KindRateLimited, Code: apperr.CodeTooManyAttempts,
				Message: "too many failed logins from this address; try again later"}).With("retry_after", secs)
		}
		for _, r := range rows {
			if err := conn.Model(&loginLimit{}).Where("key_hash = ?", r.KeyHash).
				Updates(map[string]any{"failures": r.Failures + 1, "last_at": now}).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil && prunes.Add(1)%256 == 0 {
		if _, perr := s.SweepLoginLimits(ctx); perr != nil {
			s.log.Warn("could not prune login counters", "error", perr)
		}
	}
	return err
}

// SweepLoginLimits deletes the counters forgotten (no attempt for loginForget), and
// returns how many. Logins prune now and then; the hourly sweep of serve deletes what
// a quiet installation would otherwise keep.
func (s *Service) SweepLoginLimits(ctx context.Context) (int64, error) {
	res := s.db.Conn(ctx).Where("last_at < ?", s.now().Add(-loginForget)).Delete(&loginLimit{})
	return res.RowsAffected, res.Error
}

// refundLogin undoes the attempt of a successful login, in the transaction carried by
// ctx: the pair starts afresh, and the address gets its attempt back.
func (s *Service) refundLogin(ctx context.Context, email, ip string) error {
	pair, address := s.loginKeys(email, ip)
	conn := s.db.Conn(ctx)
	if err := conn.Where("key_hash = ?", pair).Delete(&loginLimit{}).Error; err != nil {
		return err
	}
	return conn.Model(&loginLimit{}).Where("key_hash = ? AND failures > 0", address).
		Update("failures", gorm.Expr("failures - 1")).Error
}

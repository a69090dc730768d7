package api

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// failedLogins counts the login.failed events for email: one per password check that
// failed.
func failedLogins(t *testing.T, db *database.DB, email string) int64 {
	t.Helper()
	var n int64
	if err := db.Conn(context.Background()).Table("events").Where("action = 'login.failed' AND details LIKE ?", `%"`+email+`"%`).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func retryAfter(t *testing.T, r response) int {
	t.Helper()
	secs, err := strconv.Atoi(r.Header().Get("Retry-After"))
	if err != nil {
		t.Fatalf("429 without a Retry-After in seconds: %q", r.Header().Get("Retry-After"))
	}
	return secs
}

// TestLoginLimitParallelGuesses: guesses sent all at once are counted before the
// password is checked, so no more than the free five are checked.
func TestLoginLimitParallelGuesses(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		h.world()
		const n = 30
		codes := make([]int, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := h.anonymous()
				c.ip = "203.0.113.50"
				codes[i] = c.do("POST", "/api/v1/auth/login", map[string]string{"email": "editor@alpha.test", "password": "guess number " + strconv.Itoa(i)}).Code
			}()
		}
		wg.Wait()
		count := map[int]int{}
		for _, c := range codes {
			count[c]++
		}
		if count[401] != 5 || count[429] != n-5 {
			t.Errorf("30 parallel guesses: %v, want 5×401 and 25×429", count)
		}
		if got := failedLogins(t, db, "editor@alpha.test"); got != 5 {
			t.Errorf("%d passwords were checked, want 5", got)
		}
	})
}

// TestLoginLimitIsPerAddress: failures from one address neither stop the account's
// owner elsewhere nor lock the account.
func TestLoginLimitIsPerAddress(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		h.world()
		attacker := h.anonymous()
		attacker.ip = "198.51.100.66"
		for i := range 5 {
			if r := attacker.loginAs("reviewer@alpha.test", "wrong password number "+strconv.Itoa(i)); r.Code != 401 {
				t.Fatalf("attempt %d: %d %s", i+1, r.Code, r.Body)
			}
		}
		r := attacker.loginAs("reviewer@alpha.test", testPassword) // even the right password
		if r.Code != 429 {
			t.Fatalf("sixth attempt from the same address: %d %s", r.Code, r.Body)
		}
		if p := r.problem(t); p["code"] != "too_many_attempts" {
			t.Errorf("problem %v", p)
		}
		if secs := retryAfter(t, r); secs < 1 || secs > 30 {
			t.Errorf("Retry-After %d, want at most 30 after the fifth failure", secs)
		}
		reviewer := h.anonymous()
		reviewer.ip = "192.0.2.10"
		if r := reviewer.loginAs("reviewer@alpha.test", testPassword); r.Code != 200 {
			t.Errorf("the reviewer from their own address: %d %s", r.Code, r.Body)
		}
		// The attacker's address may still try other accounts (its own counter allows 20)…
		if r := attacker.loginAs("viewer@alpha.test", testPassword); r.Code != 200 {
			t.Errorf("another account from the attacker's address: %d", r.Code)
		}
		// …but not endlessly: 20 failures from one address stop every account there.
		spray := h.anonymous()
		spray.ip = "198.51.100.77"
		for i := range 20 {
			if r := spray.loginAs("nobody"+strconv.Itoa(i)+"@alpha.test", "wrong password here"); r.Code != 401 {
				t.Fatalf("spray %d: %d", i+1, r.Code)
			}
		}
		if r := spray.loginAs("editor@alpha.test", testPassword); r.Code != 429 {
			t.Errorf("21st attempt from one address: %d", r.Code)
		}
		// Successful logins do not use up an address (many people behind one NAT).
		office := h.anonymous()
		office.ip = "192.0.2.200"
		for i := range 25 {
			if r := office.loginAs("editor@alpha.test", testPassword); r.Code != 200 {
				t.Fatalf("login %d from a busy address: %d %s", i+1, r.Code, r.Body)
			}
		}
	})
}

// TestLoginBackoffGrows: beyond the free attempts, each failure doubles the wait; a
// success starts afresh.
func TestLoginBackoffGrows(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		h.world()
		c := h.anonymous()
		c.ip = "198.51.100.90"
		for i := range 5 {
			c.loginAs("editor@alpha.test", "wrong password number "+strconv.Itoa(i))
		}
		var waits []int
		for range 4 {
			r := c.loginAs("editor@alpha.test", "still the wrong password")
			if r.Code != 429 {
				t.Fatalf("attempt during the wait: %d %s", r.Code, r.Body)
			}
			secs := retryAfter(t, r)
			waits = append(waits, secs)
			h.clock.Advance(time.Duration(secs-1) * time.Second)
			if r := c.loginAs("editor@alpha.test", testPassword); r.Code != 429 {
				t.Fatalf("a second before the wait ends: %d", r.Code)
			}
			h.clock.Advance(time.Second)
			if r := c.loginAs("editor@alpha.test", "wrong once more"); r.Code != 401 {
				t.Fatalf("after the wait: %d %s", r.Code, r.Body)
			}
		}
		for i, w := range []int{30, 60, 120, 240} {
			if waits[i] != w {
				t.Errorf("waits %v, want 30, 60, 120, 240 seconds", waits)
				break
			}
		}
		// The wait is capped.
		for range 6 {
			h.clock.Advance(16 * time.Minute)
			c.loginAs("editor@alpha.test", "wrong again")
		}
		if r := c.loginAs("editor@alpha.test", testPassword); r.Code != 429 || retryAfter(t, r) > 15*60 {
			t.Errorf("capped wait: %d Retry-After %s", r.Code, r.Header().Get("Retry-After"))
		}
		// The right password after the wait clears the pair's failures.
		h.clock.Advance(15 * time.Minute)
		if r := c.loginAs("editor@alpha.test", testPassword); r.Code != 200 {
			t.Fatalf("right password after the wait: %d %s", r.Code, r.Body)
		}
		for i := range 5 {
			if r := c.loginAs("editor@alpha.test", "a fresh mistake "+strconv.Itoa(i)); r.Code != 401 {
				t.Errorf("free attempt %d after a success: %d", i+1, r.Code)
			}
		}
		// An hour of quiet forgets everything.
		h.clock.Advance(time.Hour)
		if r := c.loginAs("editor@alpha.test", testPassword); r.Code != 200 {
			t.Errorf("after an hour: %d", r.Code)
		}
	})
}

// TestLoginRateLimitHeaders: login answers carry the limits (RateLimit-Policy) and
// what is left of them (RateLimit), counting down with each failure; a refusal says
// nothing is left and when the account's counter starts again, as Retry-After does.
func TestLoginRateLimitHeaders(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		h.world()
		c := h.anonymous()
		c.ip = "203.0.113.60"
		for i := 1; i <= 5; i++ {
			r := c.do("POST", "/api/v1/auth/login", map[string]string{"email": "editor@alpha.test", "password": "wrong " + strconv.Itoa(i)})
			if r.Code != 401 {
				t.Fatalf("guess %d: %d", i, r.Code)
			}
			if p := r.Header().Get("RateLimit-Policy"); p != `"account";q=5;w=3600, "address";q=20;w=3600` {
				t.Fatalf("RateLimit-Policy %q", p)
			}
			want := `"account";r=` + strconv.Itoa(5-i) + ";t="
			if rl := r.Header().Get("RateLimit"); !strings.HasPrefix(rl, want) || !strings.Contains(rl, `"address";r=`+strconv.Itoa(20-i)+";") {
				t.Fatalf("guess %d: RateLimit %q, want %s… and address %d", i, rl, want, 20-i)
			}
		}
		r := c.do("POST", "/api/v1/auth/login", map[string]string{"email": "editor@alpha.test", "password": testPassword})
		if r.Code != 429 {
			t.Fatalf("sixth attempt: %d", r.Code)
		}
		if rl, want := r.Header().Get("RateLimit"), `"account";r=0;t=`+strconv.Itoa(retryAfter(t, r))+","; !strings.HasPrefix(rl, want) {
			t.Errorf("refused: RateLimit %q, want %s…", rl, want)
		}
	})
}

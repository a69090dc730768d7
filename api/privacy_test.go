package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/clientip"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// Addresses of the retention tests: one IPv4, one IPv6 client.
const (
	clientV4 = "198.51.100.7"
	clientV6 = "2001:db8:abcd:12::7"
)

// storedAddresses are the addresses a harness wrote: of the login events (platform
// chain), of the tenant.created event (tenant chain) and of the sessions.
func storedAddresses(t *testing.T, db *database.DB) (logins, tenant, sessions []string) {
	t.Helper()
	conn := db.Conn(context.Background())
	if err := conn.Table("events").Where("action = 'login'").Order("id").Pluck("ip", &logins).Error; err != nil {
		t.Fatal(err)
	}
	if err := conn.Table("events").Where("action = 'tenant.created'").Order("id").Pluck("ip", &tenant).Error; err != nil {
		t.Fatal(err)
	}
	if err := conn.Table("sessions").Order("created_at").Pluck("ip", &sessions).Error; err != nil {
		t.Fatal(err)
	}
	return logins, tenant, sessions
}

// TestIPRetention: the audit trail, the sessions and the access log keep the network
// of a client's address by default (/24 for IPv4, /48 for IPv6), the whole address with
// full, and nothing with none.
func TestIPRetention(t *testing.T) {
	modes := []struct {
		retention clientip.Retention
		v4, v6    string
	}{
		{clientip.Truncated, "198.51.100.0/24", "2001:db8:abcd::/48"},
		{clientip.Full, clientV4, clientV6},
		{clientip.None, "", ""},
	}
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		for _, m := range modes {
			t.Run(m.retention.String(), func(t *testing.T) {
				h := newHarness(t, dbtest.New(t, db.Dialect()))
				var logs syncBuffer
				opts := Options{Auth: h.auth, Workflow: h.wf, Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
				if m.retention != clientip.Truncated {
					opts.IPRetention = m.retention // the zero value is the default
				}
				h.srv = New(opts)
				super := h.superadmin() // logs in from clientV4
				super.must(201, "POST", "/api/v1/tenants", map[string]string{"slug": "alpha", "name": "Alpha Federation"})
				v6 := h.anonymous()
				v6.ip = "[" + clientV6 + "]"
				if r := v6.loginAs("root@platform.test", testPassword); r.Code != 200 {
					t.Fatalf("login over IPv6: %d %s", r.Code, r.Body)
				}

				logins, tenant, sessions := storedAddresses(t, h.db)
				want := []string{m.v4, m.v6}
				if strings.Join(logins, " ") != strings.Join(want, " ") {
					t.Errorf("login events keep %q, want %q", logins, want)
				}
				if len(tenant) != 1 || tenant[0] != m.v4 {
					t.Errorf("the tenant.created event keeps %q, want %q", tenant, m.v4)
				}
				if strings.Join(sessions, " ") != strings.Join(want, " ") {
					t.Errorf("sessions keep %q, want %q", sessions, want)
				}

				var seen []string
				for _, l := range logs.lines(t) {
					if l["msg"] != "request" {
						continue
					}
					ip, has := l["remote_ip"]
					if m.retention == clientip.None && has {
						t.Errorf("with none, an access log line names an address: %v", l)
					}
					if has {
						seen = append(seen, ip.(string))
					}
					for _, whole := range []string{clientV4, clientV6} {
						if m.retention != clientip.Full && strings.Contains(mustJSON(t, l), whole) {
							t.Errorf("an access log line holds the whole address %s: %v", whole, l)
						}
					}
				}
				if m.retention != clientip.None && (len(seen) == 0 || seen[0] != m.v4 || seen[len(seen)-1] != m.v6) {
					t.Errorf("the access log's addresses are %q, want %q first and %q last", seen, m.v4, m.v6)
				}
			})
		}
	})
}

// TestSessionKeepsNoUserAgent: a login records no user agent anywhere.
func TestSessionKeepsNoUserAgent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		h.superadmin()
		const agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0 (unionportal-test)"
		r := h.anonymous().doWithHeaders("POST", "/api/v1/auth/login", map[string]string{"email": "root@platform.test", "password": testPassword},
			map[string]string{"User-Agent": agent})
		if r.Code != 200 {
			t.Fatalf("login: %d %s", r.Code, r.Body)
		}
		if db.Conn(t.Context()).Migrator().HasColumn("sessions", "user_agent") {
			t.Error("sessions still have a user_agent column")
		}
		for _, table := range []string{"sessions", "events"} {
			var rows []map[string]any
			if err := db.Conn(t.Context()).Table(table).Find(&rows).Error; err != nil {
				t.Fatal(err)
			}
			if strings.Contains(mustJSON(t, rows), "unionportal-test") {
				t.Errorf("%s records the user agent", table)
			}
		}
	})
}

// TestLoginLimitsWithinOneNetwork: the login limits count whole addresses, whatever is
// stored: failures from one address do not limit its neighbour in the same /24 (or
// /48), and the counters keep neither the addresses nor their plain hashes.
func TestLoginLimitsWithinOneNetwork(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		h.world()
		for _, pair := range [][2]string{{"203.0.113.66", "203.0.113.67"}, {"[2001:db8:77::66]", "[2001:db8:77::67]"}} {
			attacker, neighbour := h.anonymous(), h.anonymous()
			attacker.ip, neighbour.ip = pair[0], pair[1]
			// 20 failures exhaust the attacker's address, 5 of them its pair with the reviewer.
			for i := range 20 {
				email := "nobody" + strconv.Itoa(i) + "@alpha.test"
				if i < 5 {
					email = "reviewer@alpha.test"
				}
				if r := attacker.loginAs(email, "wrong password number "+strconv.Itoa(i)); r.Code != 401 {
					t.Fatalf("%s: attempt %d: %d %s", pair[0], i+1, r.Code, r.Body)
				}
			}
			if r := attacker.loginAs("editor@alpha.test", testPassword); r.Code != 429 {
				t.Errorf("%s: the 21st attempt: %d, want 429", pair[0], r.Code)
			}
			if r := neighbour.loginAs("reviewer@alpha.test", testPassword); r.Code != 200 {
				t.Errorf("%s, beside %s: %d %s", pair[1], pair[0], r.Code, r.Body)
			}
		}
		var keys []string
		if err := db.Conn(t.Context()).Table("login_limits").Pluck("key_hash", &keys).Error; err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			t.Fatal("no login counters")
		}
		plain := map[string]bool{}
		for _, ip := range []string{"203.0.113.66", "203.0.113.67", "2001:db8:77::66", "2001:db8:77::67"} {
			for _, parts := range [][]string{{"address", ip}, {"pair", ip, "reviewer@alpha.test"}} {
				s := sha256.New()
				for _, p := range parts {
					s.Write([]byte(p))
					s.Write([]byte{0})
				}
				plain[hex.EncodeToString(s.Sum(nil))] = true
			}
		}
		for _, k := range keys {
			if plain[k] || strings.Contains(k, "203.0.113") || strings.Contains(k, "2001:db8") {
				t.Errorf("a login counter is keyed by the address itself or its plain SHA-256: %s", k)
			}
		}
	})
}

// TestTimelineAddressesAreStoredTruncated: what a submission's timeline shows tenant
// admins is the network the event kept.
func TestTimelineAddressesAreStoredTruncated(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		var events struct{ Items []map[string]any }
		w.adminA.must(200, "GET", subPath(w.submissionA.ID, "/events"), nil).json(t, &events)
		if len(events.Items) == 0 {
			t.Fatal("no timeline")
		}
		for _, e := range events.Items {
			if e["ip"] != "198.51.100.0/24" {
				b, _ := json.Marshal(e)
				t.Errorf("an event keeps %v: %s", e["ip"], b)
			}
		}
	})
}

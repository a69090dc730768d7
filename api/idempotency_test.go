package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

func countRows(t testing.TB, db *database.DB, table string) int64 {
	t.Helper()
	var n int64
	if err := db.Conn(context.Background()).Table(table).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

func withKey(key string) map[string]string { return map[string]string{IdempotencyKeyHeader: key} }

// sameResponse fails unless b repeats a exactly (status, body, kept headers) and says so.
func sameResponse(t *testing.T, a, b response) {
	t.Helper()
	if b.Code != a.Code || b.Body.String() != a.Body.String() {
		t.Fatalf("replay: %d %s, first: %d %s", b.Code, b.Body, a.Code, a.Body)
	}
	for _, h := range replayedHeaders {
		if a.Header().Get(h) != b.Header().Get(h) {
			t.Errorf("replayed %s = %q, first %q", h, b.Header().Get(h), a.Header().Get(h))
		}
	}
	if a.Header().Get(IdempotentReplayedHeader) != "" || b.Header().Get(IdempotentReplayedHeader) != "true" {
		t.Errorf("Idempotent-Replayed: first %q, repetition %q", a.Header().Get(IdempotentReplayedHeader), b.Header().Get(IdempotentReplayedHeader))
	}
}

// TestIdempotentPosts: a repeated POST with the same key returns the first response and
// creates nothing; another request with the key is refused; keys are per user.
func TestIdempotentPosts(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		comments := "/api/v1/tenants/alpha/submissions/" + w.submissionA.ID + "/comments"
		before := countRows(t, db, "comments")
		first := w.reviewerA.doWithHeaders("POST", comments, map[string]string{"body": "Once only"}, withKey("comment-1"))
		if first.Code != 201 {
			t.Fatalf("first: %d %s", first.Code, first.Body)
		}
		again := w.reviewerA.doWithHeaders("POST", comments, map[string]string{"body": "Once only"}, withKey("comment-1"))
		sameResponse(t, first, again)
		if n := countRows(t, db, "comments"); n != before+1 {
			t.Errorf("%d comments created, want 1", n-before)
		}

		// The same key with another body, or on another route, is refused.
		if p := w.reviewerA.doWithHeaders("POST", comments, map[string]string{"body": "Twice"}, withKey("comment-1")).problem(t); p["code"] != "idempotency_key_reused" || p["status"] != float64(422) {
			t.Errorf("another body: %v", p)
		}
		if p := w.reviewerA.doWithHeaders("POST", "/api/v1/tenants/alpha/cases", map[string]any{"number": "1", "country": "KG",
			"title": "T", "complainants": []string{"X"}}, withKey("comment-1")).problem(t); p["code"] != "idempotency_key_reused" {
			t.Errorf("another route: %v", p)
		}

		// A token of the same user is the same principal: it gets the replay.
		var tok auth.NewToken
		w.reviewerA.must(201, "POST", "/api/v1/me/tokens", map[string]string{"name": "script"}).json(t, &tok)
		rest := &client{h: h, ip: "203.0.113.9", bearer: tok.Token}
		sameResponse(t, first, rest.doWithHeaders("POST", comments, map[string]string{"body": "Once only"}, withKey("comment-1")))
		// Another user's key of the same name is theirs.
		other := w.editorA1.doWithHeaders("POST", comments, map[string]string{"body": "Once only"}, withKey("comment-1"))
		if other.Code != 201 || other.Header().Get(IdempotentReplayedHeader) != "" {
			t.Errorf("another user's key: %d %s", other.Code, other.Body)
		}
		// The structured-field form ("…") names the same key.
		sameResponse(t, first, w.reviewerA.doWithHeaders("POST", comments, map[string]string{"body": "Once only"}, withKey(`"comment-1"`)))

		// A refusal (4xx) is kept too: the same request gets the same answer.
		bad := w.reviewerA.doWithHeaders("POST", comments, map[string]string{"body": ""}, withKey("empty"))
		if bad.Code != 422 {
			t.Fatalf("empty comment: %d %s", bad.Code, bad.Body)
		}
		sameResponse(t, bad, w.reviewerA.doWithHeaders("POST", comments, map[string]string{"body": ""}, withKey("empty")))

		// Submissions and cases: Location and ETag come back as they were.
		sub := map[string]any{"case_id": w.caseA.ID, "kind": "complaint", "title": "Draft", "body": "Text", "language": "en"}
		firstSub := w.editorA1.doWithHeaders("POST", "/api/v1/tenants/alpha/submissions", sub, withKey("sub-1"))
		subs := countRows(t, db, "submissions")
		sameResponse(t, firstSub, w.editorA1.doWithHeaders("POST", "/api/v1/tenants/alpha/submissions", sub, withKey("sub-1")))
		if countRows(t, db, "submissions") != subs {
			t.Error("a replay created a submission")
		}

		// Invalid keys: 400 naming the header.
		for _, k := range []string{"", `""`, strings.Repeat("k", 256), "clé", "tab\there"} {
			r := w.reviewerA.doWithHeaders("POST", comments, map[string]string{"body": "x"}, withKey(k))
			if p := r.problem(t); r.Code != 400 || len(fieldNames(p)) != 1 || fieldNames(p)[0] != "Idempotency-Key" {
				t.Errorf("key %q: %d %v", k, r.Code, p)
			}
		}
		// Public routes have no principal: the header is ignored there.
		anon := h.anonymous()
		r := anon.doWithHeaders("POST", "/api/v1/auth/login", map[string]string{"email": "editor@alpha.test", "password": testPassword}, withKey("login"))
		r2 := anon.doWithHeaders("POST", "/api/v1/auth/login", map[string]string{"email": "editor@alpha.test", "password": testPassword}, withKey("login"))
		if r.Code != 200 || r2.Code != 200 || r2.Header().Get(IdempotentReplayedHeader) != "" || r.Body.String() == r2.Body.String() {
			t.Errorf("login with a key: %d, then %d %q", r.Code, r2.Code, r2.Header().Get(IdempotentReplayedHeader))
		}
	})
}

// TestIdempotentTokenCreation: the replay of a token's creation shows the same token,
// which the database does not hold in clear.
func TestIdempotentTokenCreation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		first := w.editorA1.doWithHeaders("POST", "/api/v1/me/tokens", map[string]string{"name": "ci"}, withKey("tok"))
		sameResponse(t, first, w.editorA1.doWithHeaders("POST", "/api/v1/me/tokens", map[string]string{"name": "ci"}, withKey("tok")))
		var tok auth.NewToken
		first.json(t, &tok)
		var bodies [][]byte
		if err := db.Conn(context.Background()).Table("idempotency_keys").Pluck("body", &bodies).Error; err != nil {
			t.Fatal(err)
		}
		for _, b := range bodies {
			if bytes.Contains(b, []byte(tok.Token)) || bytes.Contains(b, []byte(`"name"`)) {
				t.Fatal("a stored response is readable in the database")
			}
		}
	})
}

// TestIdempotentConcurrentRequests: many requests with one key at once create one
// comment; the others get its response or 409.
func TestIdempotentConcurrentRequests(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		comments := "/api/v1/tenants/alpha/submissions/" + w.submissionA.ID + "/comments"
		before := countRows(t, db, "comments")
		const n = 8
		var wg sync.WaitGroup
		codes := make([]response, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				codes[i] = w.reviewerA.doWithHeaders("POST", comments, map[string]string{"body": "Racing"}, withKey("race"))
			})
		}
		close(start)
		wg.Wait()
		var created, replayed, busy int
		for _, r := range codes {
			switch {
			case r.Code == 201 && r.Header().Get(IdempotentReplayedHeader) == "true":
				replayed++
			case r.Code == 201:
				created++
			case r.Code == 409 && r.problem(t)["code"] == "idempotency_in_progress" && r.Header().Get("Retry-After") != "":
				busy++
			default:
				t.Errorf("unexpected answer %d %s", r.Code, r.Body)
			}
		}
		if created != 1 || countRows(t, db, "comments") != before+1 {
			t.Errorf("%d created (%d rows), %d replayed, %d busy; want exactly one creation", created, countRows(t, db, "comments")-before, replayed, busy)
		}
	})
}

// TestIdempotencyReleasesFailures: a server fault or a panic releases the key, so the
// repetition runs again; its success is then kept.
func TestIdempotencyReleasesFailures(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		var calls atomic.Int32
		h.srv.route(http.MethodPost, "/api/v1/test/flaky", Authenticated(), func(c echo.Context) error {
			switch calls.Add(1) {
			case 1:
				return errors.New("database exploded")
			case 2:
				panic("handler bug")
			}
			return c.JSON(http.StatusCreated, map[string]int32{"call": calls.Load()})
		}, Doc{})
		post := func() response {
			return w.editorA1.doWithHeaders("POST", "/api/v1/test/flaky", map[string]string{}, withKey("flaky"))
		}
		if r := post(); r.Code != 500 {
			t.Fatalf("first: %d", r.Code)
		}
		if r := post(); r.Code != 500 {
			t.Fatalf("panic: %d", r.Code)
		}
		ok := post()
		if ok.Code != 201 {
			t.Fatalf("third: %d %s", ok.Code, ok.Body)
		}
		sameResponse(t, ok, post())
		if calls.Load() != 3 {
			t.Errorf("handler ran %d times, want 3", calls.Load())
		}
	})
}

// TestIdempotencyExpires: a key is remembered for 24 hours; then it runs again, and the
// sweep removes what expired.
func TestIdempotencyExpires(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		comments := "/api/v1/tenants/alpha/submissions/" + w.submissionA.ID + "/comments"
		// A token: sessions end after two idle hours.
		var tok auth.NewToken
		w.reviewerA.must(201, "POST", "/api/v1/me/tokens", map[string]string{"name": "daily job"}).json(t, &tok)
		rest := &client{h: h, ip: "203.0.113.9", bearer: tok.Token}
		before := countRows(t, db, "comments")
		body := map[string]string{"body": "Daily"}
		first := rest.doWithHeaders("POST", comments, body, withKey("daily"))
		h.clock.Advance(23 * time.Hour)
		sameResponse(t, first, rest.doWithHeaders("POST", comments, body, withKey("daily")))
		rest.doWithHeaders("POST", comments, body, withKey("other"))
		h.clock.Advance(time.Hour + time.Second)
		if n, err := h.auth.SweepIdempotencyKeys(context.Background()); err != nil || n != 1 {
			t.Errorf("sweep removed %d keys (%v), want the expired one", n, err)
		}
		r := rest.doWithHeaders("POST", comments, body, withKey("daily"))
		if r.Code != 201 || r.Header().Get(IdempotentReplayedHeader) != "" || countRows(t, db, "comments") != before+3 {
			t.Errorf("after 24 h: %d replayed=%q, %d comments", r.Code, r.Header().Get(IdempotentReplayedHeader), countRows(t, db, "comments")-before)
		}
	})
}

// multipartFile builds a multipart body holding one file in the field "file".
func multipartFile(t testing.TB, name string, data []byte) (string, []byte) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	hdr := textproto.MIMEHeader{}
	hdr.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	hdr.Set("Content-Type", "text/plain")
	pw, err := mw.CreatePart(hdr)
	if err != nil {
		t.Fatal(err)
	}
	pw.Write(data)
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

func (c *client) uploadWithKey(submissionID, key, contentType string, body []byte) response {
	c.h.t.Helper()
	return c.send(http.MethodPost, "/api/v1/tenants/alpha/submissions/"+submissionID+"/attachments", body,
		map[string]string{"Content-Type": contentType, IdempotencyKeyHeader: key})
}

// TestIdempotentUpload: a repeated upload (even with a fresh multipart boundary) gets
// the first attachment; another file with the key is refused.
func TestIdempotentUpload(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		var draft struct{ ID string }
		w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID, "kind": "complaint",
			"title": "Evidence", "body": "See files", "language": "en"}).json(t, &draft)
		data := bytes.Repeat([]byte("A statement of the events.\n"), 4000) // ~100 KiB: several reads
		ct, body := multipartFile(t, "statement.txt", data)
		first := w.editorA1.uploadWithKey(draft.ID, "up-1", ct, body)
		if first.Code != 201 {
			t.Fatalf("upload: %d %s", first.Code, first.Body)
		}
		files := countRows(t, db, "attachments")
		sameResponse(t, first, w.editorA1.uploadWithKey(draft.ID, "up-1", ct, body))
		ct2, body2 := multipartFile(t, "statement.txt", data) // another boundary
		if ct2 == ct {
			t.Fatal("the same boundary twice")
		}
		sameResponse(t, first, w.editorA1.uploadWithKey(draft.ID, "up-1", ct2, body2))
		if countRows(t, db, "attachments") != files {
			t.Error("a replayed upload stored a file")
		}
		for name, d := range map[string][]byte{"longer": append(bytes.Clone(data), 'x'), "shorter": data[1:], "changed": bytes.Replace(data, []byte("A"), []byte("B"), 1)} {
			ct3, body3 := multipartFile(t, "statement.txt", d)
			if p := w.editorA1.uploadWithKey(draft.ID, "up-1", ct3, body3).problem(t); p["code"] != "idempotency_key_reused" {
				t.Errorf("%s file with the key: %v", name, p)
			}
		}
		if countRows(t, db, "attachments") != files {
			t.Error("a refused repetition stored a file")
		}
	})
}

// TestFingerprintReplacesBoundaries: the multipart delimiter is found across reads of
// any size, and the hash is the same whatever the boundary.
func TestFingerprintReplacesBoundaries(t *testing.T) {
	sum := func(boundary string, chunk int) (string, int64) {
		body := "--" + boundary + "\r\nX: y\r\n\r\n-- -abc-data\r\n--" + boundary + "--\r\n"
		req := httptest.NewRequest("POST", "/p", nil)
		req.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
		f := newFingerprint(req)
		for i := 0; i < len(body); i += chunk {
			f.Write([]byte(body[i:min(i+chunk, len(body))]))
		}
		s := f.sum()
		return s, f.n
	}
	want, wantN := sum("abcdef0123456789", 1000)
	for _, b := range []string{"abcdef0123456789", "zz9", "------------------------5f6e7d"} {
		for _, chunk := range []int{1, 2, 3, 7, 64} {
			if got, n := sum(b, chunk); got != want || n != wantN {
				t.Errorf("boundary %q in chunks of %d: %s (%d bytes), want %s (%d)", b, chunk, got, n, want, wantN)
			}
		}
	}
}

package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// recordingTB records the errors a check reports, to test the check itself.
type recordingTB struct {
	testing.TB
	errors []string
}

func (r *recordingTB) Errorf(format string, args ...any) { r.errors = append(r.errors, format) }
func (r *recordingTB) Helper()                           {}

// TestExchangeCheckerCatchesDrift: the validation every API test's exchanges go through
// fails when the server and the document disagree.
func TestExchangeCheckerCatchesDrift(t *testing.T) {
	h := newHarness(t, dbtest.New(t, database.SQLite))
	x := exchangeChecker{spec: loadSpec(t), srv: h.srv}
	const sub = "/api/v1/tenants/alpha/submissions/01a2216e-ba4e-7c92-803e-8be730393a94"
	for _, c := range []struct {
		name, method, path, reqBody string
		status                      int
		header                      map[string]string
		resBody                     string
		wantError                   bool
	}{
		{"a valid answer", "GET", "/healthz", "", 200, map[string]string{"Content-Type": "application/json"}, `{"status":"ok","version":"v"}`, false},
		{"a body the schema refuses", "GET", sub, "", 200, map[string]string{"Content-Type": "application/json", "ETag": `"1-0"`}, `{"id":"x"}`, true},
		{"an undocumented status", "GET", sub, "", http.StatusTeapot, map[string]string{"Content-Type": ProblemContentType}, `{}`, true},
		{"a 201 without Location", "POST", "/api/v1/tenants/alpha/cases", `{"country":"KG","title":"T"}`, 201,
			map[string]string{"Content-Type": "application/json"}, `{}`, true},
		{"an invalid request accepted", "POST", "/api/v1/tenants/alpha/cases", `{"country":"KG"}`, 201,
			map[string]string{"Content-Type": "application/json", "Location": "/x"}, `{}`, true},
		{"an invalid request refused", "POST", "/api/v1/tenants/alpha/cases", `{"country":"KG"}`, 422,
			map[string]string{"Content-Type": ProblemContentType}, `{"type":"about:blank","title":"t","status":422,"code":"validation_failed"}`, false},
	} {
		req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.reqBody))
		if c.reqBody != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		for k, v := range c.header {
			rec.Header().Set(k, v)
		}
		rec.WriteHeader(c.status)
		rec.Body.WriteString(c.resBody)
		r := &recordingTB{TB: t}
		x.check(r, req, []byte(c.reqBody), rec)
		if got := len(r.errors) > 0; got != c.wantError {
			t.Errorf("%s: errors %v, want an error: %v", c.name, r.errors, c.wantError)
		}
	}
}

// TestLinkHeaderPages: a paged list's Link header leads to the next page, with the
// other parameters kept, until the last page, which has none.
func TestLinkHeaderPages(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		h := newHarness(t, db)
		w := h.world()
		for _, title := range []string{"one", "two", "three", "four"} {
			w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{"case_id": w.caseA.ID,
				"kind": "follow_up", "title": "Report " + title, "body": "b", "language": "en"})
		}
		next := "/api/v1/tenants/alpha/submissions?q=Report&limit=2"
		var seen []string
		for pages := 0; next != ""; pages++ {
			if pages > 3 {
				t.Fatal("the Link header never ends")
			}
			r := w.editorA1.must(200, "GET", next, nil)
			var l struct {
				Items []struct {
					Title string `json:"title"`
				} `json:"items"`
				Next string `json:"next_cursor"`
			}
			r.json(t, &l)
			for _, it := range l.Items {
				seen = append(seen, it.Title)
			}
			link := r.Header().Get("Link")
			if (link == "") != (l.Next == "") {
				t.Fatalf("Link %q with next_cursor %q", link, l.Next)
			}
			next = ""
			if link != "" {
				if !strings.HasSuffix(link, `>; rel="next"`) || !strings.Contains(link, "q=Report") || !strings.Contains(link, "limit=2") {
					t.Fatalf("Link %q", link)
				}
				next = strings.TrimSuffix(strings.TrimPrefix(link, "<"), `>; rel="next"`)
			}
		}
		if len(seen) != 4 {
			t.Errorf("pages held %v, want the four reports", seen)
		}
	})
}

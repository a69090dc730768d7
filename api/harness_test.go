package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/portal"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/webhook"
	"github.com/unionportal/unionportal/workflow"
)

// testPassword is every fixture user's password.
const testPassword = "correct horse battery staple"

// cheapPasswords keeps argon2id fast in tests; production uses auth.DefaultPasswordParams.
var cheapPasswords = &argon2id.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// testAuthOptions are the fixtures' auth settings.
var testAuthOptions = auth.Options{SecretKey: []byte("0123456789abcdef0123456789abcdef"), PasswordParams: cheapPasswords}

// fakeClock is a settable clock for session expiry tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// harness is one portal process: an auth service and a server on a database.
type harness struct {
	t     testing.TB
	db    *database.DB
	auth  *auth.Service
	wf    *workflow.Service
	store storage.Store
	hooks *webhook.Service
	// keys is the installation's key hierarchy, under a master key of the harness's own.
	keys *keys.Service
	// services are the wired services of a portal harness (nil otherwise).
	services *portal.Services
	srv      *Server
	clock    *fakeClock
	// apps are the fixture users' authenticator apps, by e-mail: the harness enrols a
	// TOTP factor for every user whose roles require one, and answers the second step
	// of their logins, as a person with their phone would.
	apps *authenticatorApps
}

// authenticatorApps are the apps of the fixture users, by e-mail; two harnesses of one
// installation (a backup restored) share them.
type authenticatorApps struct {
	mu   sync.Mutex
	byID map[string]*authenticatorApp
}

// installations holds the authenticator apps of each test database's users: every
// harness on one database (a second portal process, a worker) knows the same people.
var installations sync.Map // *database.DB -> *authenticatorApps

func appsOf(db *database.DB) *authenticatorApps {
	apps, _ := installations.LoadOrStore(db, &authenticatorApps{byID: map[string]*authenticatorApp{}})
	return apps.(*authenticatorApps)
}

// authenticatorApp is a TOTP secret and the last time step whose code was sent: the
// portal accepts each code once, so the next login waits for the next step.
type authenticatorApp struct {
	secret   string
	lastStep int64
}

// testMaster is the master key of every harness's installation, as an installation
// restored from a backup is given its original's master key.
var testMaster = keys.NewMaster()

func newHarness(t testing.TB, db *database.DB) *harness {
	t.Helper()
	return newHarnessMaster(t, db, testMaster)
}

// newHarnessMaster is newHarness for an installation with master key m.
func newHarnessMaster(t testing.TB, db *database.DB, m *keys.Master) *harness {
	t.Helper()
	clock := &fakeClock{now: time.Now().UTC()}
	ks := keys.NewService(db, m)
	opts := testAuthOptions
	opts.Now, opts.Keys = clock.Now, ks
	svc, err := auth.NewService(context.Background(), db, opts)
	if err != nil {
		t.Fatal(err)
	}
	store, err := storage.NewLocal(filepath.Join(t.TempDir(), "files"))
	if err != nil {
		t.Fatal(err)
	}
	wf := workflow.NewService(db, workflow.Options{Now: clock.Now, Storage: store, Keys: ks,
		Limits: workflow.Limits{MaxFileBytes: 1 << 20, MaxSubmissionBytes: 3 << 20}})
	return &harness{t: t, db: db, auth: svc, wf: wf, store: store, keys: ks, srv: New(Options{Auth: svc, Workflow: wf}), clock: clock,
		apps: appsOf(db)}
}

// client is one HTTP client of the portal: a browser (cookie and CSRF token) or a REST
// client (bearer token).
type client struct {
	h      *harness
	ip     string
	cookie *http.Cookie
	// pending is the cookie of a login waiting for its second factor.
	pending *http.Cookie
	csrf    string
	bearer  string
	user    auth.User
}

func (h *harness) anonymous() *client { return &client{h: h, ip: "198.51.100.7"} }

type response struct {
	*httptest.ResponseRecorder
}

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body.Bytes(), v); err != nil {
		t.Fatalf("response is not JSON (%v): %s", err, r.Body)
	}
}

func (r response) problem(t testing.TB) map[string]any {
	t.Helper()
	if ct := r.Header().Get("Content-Type"); ct != ProblemContentType {
		t.Fatalf("Content-Type %q, want problem+json; status %d body %s", ct, r.Code, r.Body)
	}
	var p map[string]any
	r.json(t, &p)
	return p
}

// fieldNames lists the fields a problem names.
func fieldNames(p map[string]any) []string {
	var out []string
	errs, _ := p["errors"].([]any)
	for _, e := range errs {
		out = append(out, e.(map[string]any)["field"].(string))
	}
	return out
}

func (c *client) do(method, path string, body any) response {
	c.h.t.Helper()
	return c.send(method, path, body, nil)
}

func (c *client) doWithHeaders(method, path string, body any, headers map[string]string) response {
	c.h.t.Helper()
	return c.send(method, path, body, headers)
}

func (c *client) send(method, path string, body any, headers map[string]string) response {
	c.h.t.Helper()
	var r io.Reader
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			c.h.t.Fatal(err)
		}
	}
	if body != nil {
		r = bytes.NewReader(raw)
	}
	req := httptest.NewRequest(method, path, r)
	req.RemoteAddr = c.ip + ":40000"
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	if c.pending != nil {
		req.AddCookie(c.pending)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	c.h.srv.Handler().ServeHTTP(rec, req)
	c.h.checkExchange(req, raw, rec)
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == "up_pending" {
			c.pending = ck
			if ck.MaxAge < 0 || ck.Value == "" {
				c.pending = nil
			}
		}
	}
	return response{rec}
}

// checkExchange validates a request and its answer against the OpenAPI document.
func (h *harness) checkExchange(req *http.Request, body []byte, rec *httptest.ResponseRecorder) {
	h.t.Helper()
	exchangeChecker{spec: loadSpec(h.t), srv: h.srv}.check(h.t, req, body, rec)
}

// upload sends one file as the multipart field "file".
func (c *client) upload(status int, submissionID, name, contentType string, data []byte) response {
	c.h.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	hdr := textproto.MIMEHeader{}
	hdr.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, name))
	if contentType != "" {
		hdr.Set("Content-Type", contentType)
	}
	pw, _ := mw.CreatePart(hdr)
	pw.Write(data)
	mw.Close()
	r := c.rawPost("/api/v1/tenants/alpha/submissions/"+submissionID+"/attachments", mw.FormDataContentType(), &buf)
	if status != 0 && r.Code != status {
		c.h.t.Fatalf("upload %s: status %d, want %d; body %s", name, r.Code, status, r.Body)
	}
	return r
}

// rawPost sends a body with its own content type.
func (c *client) rawPost(path, contentType string, body io.Reader) response {
	c.h.t.Helper()
	raw, err := io.ReadAll(body)
	if err != nil {
		c.h.t.Fatal(err)
	}
	return c.send(http.MethodPost, path, raw, map[string]string{"Content-Type": contentType})
}

func (c *client) must(status int, method, path string, body any) response {
	c.h.t.Helper()
	r := c.do(method, path, body)
	if r.Code != status {
		c.h.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.Code, status, r.Body)
	}
	return r
}

// login logs in as a browser would and returns the client.
func (h *harness) login(email string) *client {
	h.t.Helper()
	c := h.anonymous()
	c.loginAs(email, testPassword)
	return c
}

// loginAs logs in as a browser would, with the user's authenticator app when the
// account has a second factor the harness enrolled; a user whose roles require a
// factor and who has none enrols one at once (an authenticator app the harness keeps).
// A login that stops at the second factor for an account the harness does not hold the
// app of returns that answer (second_factor_required).
func (c *client) loginAs(email, password string) response {
	c.h.t.Helper()
	r := c.passwordStep(email, password)
	if r.Code != http.StatusOK {
		return r
	}
	var body loginResult
	r.json(c.h.t, &body)
	if body.SecondFactorRequired {
		code, ok := c.h.nextCode(email)
		if !ok {
			return r
		}
		if r = c.do(http.MethodPost, "/api/v1/auth/second-factor", map[string]string{"method": "totp", "code": code}); r.Code != http.StatusOK {
			return r
		}
		r.json(c.h.t, &body)
	}
	c.takeSession(r)
	if body.SecondFactorEnrolmentRequired {
		c.enrolApp(email)
	}
	return r
}

// passwordStep posts the e-mail and password, and nothing more.
func (c *client) passwordStep(email, password string) response {
	c.h.t.Helper()
	return c.do(http.MethodPost, "/api/v1/auth/login", map[string]string{"email": email, "password": password})
}

// takeSession keeps the session cookie, CSRF token and user of a login's answer.
func (c *client) takeSession(r response) {
	c.h.t.Helper()
	for _, ck := range r.Result().Cookies() {
		if ck.Name == "up_session" {
			c.cookie = ck
		}
	}
	var body loginResult
	r.json(c.h.t, &body)
	c.csrf = body.CSRFToken
	if body.User != nil {
		c.user = *body.User
	}
}

// enrolApp adds an authenticator app to the logged-in user and activates it; the
// harness keeps it for the user's next logins.
func (c *client) enrolApp(email string) auth.ActivatedFactor {
	c.h.t.Helper()
	var f auth.NewFactor
	c.must(http.StatusCreated, "POST", "/api/v1/me/factors", map[string]string{"type": "totp", "name": "Phone"}).json(c.h.t, &f)
	app := &authenticatorApp{secret: f.Secret, lastStep: -1}
	c.h.apps.mu.Lock()
	c.h.apps.byID[auth.NormalizeEmail(email)] = app
	c.h.apps.mu.Unlock()
	code, _ := c.h.nextCode(email)
	var a auth.ActivatedFactor
	c.must(http.StatusOK, "POST", "/api/v1/me/factors/"+f.ID+"/activate", map[string]string{"code": code}).json(c.h.t, &a)
	return a
}

// nextCode is the user's authenticator app's code now, once: when the current step's
// code was sent already, the clock moves on to the next step, as a person would wait
// for the next code.
func (h *harness) nextCode(email string) (string, bool) {
	h.apps.mu.Lock()
	defer h.apps.mu.Unlock()
	app := h.apps.byID[auth.NormalizeEmail(email)]
	if app == nil {
		return "", false
	}
	step := h.clock.Now().Unix() / 30
	if step <= app.lastStep {
		h.clock.Advance(time.Unix((app.lastStep+1)*30, 0).Sub(h.clock.Now()))
		step = app.lastStep + 1
	}
	app.lastStep = step
	return auth.TOTPCode(app.secret, h.clock.Now()), true
}

// world is two tenants with organizations and users in every role.
type world struct {
	super                  *client
	tenantA, tenantB       auth.Tenant
	orgA1, orgA2, orgB     auth.Organization
	adminA, editorA1       *client
	reviewerA, viewerA2    *client
	editorA2               *client
	adminB                 *client
	editorA1ID, viewerA2ID string
	caseA                  workflow.Case
	// submissionA belongs to organization A1 of tenant alpha; its title and body carry
	// secretMarker, which no response to anyone outside A1 or the secretariat may contain.
	submissionA workflow.SubmissionView
	caseBID     string
}

// secretMarker is in the title and body of the fixture's confidential submission.
const secretMarker = "WITNESS-NAME-7731"

func (h *harness) superadmin() *client {
	h.t.Helper()
	if _, err := h.auth.CreateSuperadmin(context.Background(), "root@platform.test", "Root", testPassword); err != nil {
		h.t.Fatal(err)
	}
	return h.login("root@platform.test")
}

func (h *harness) world() *world {
	h.t.Helper()
	w := &world{super: h.superadmin()}
	w.super.must(201, "POST", "/api/v1/tenants", map[string]string{"slug": "alpha", "name": "Alpha Federation"}).json(h.t, &w.tenantA)
	w.super.must(201, "POST", "/api/v1/tenants", map[string]string{"slug": "beta", "name": "Beta Federation"}).json(h.t, &w.tenantB)
	// Alpha's letters go out from its own verified domain.
	w.super.must(201, "POST", "/api/v1/tenants/alpha/sender-domains", map[string]string{"domain": "alpha.test"})
	org := func(tenant, name, country, kind string, into *auth.Organization) {
		w.super.must(201, "POST", "/api/v1/tenants/"+tenant+"/organizations",
			map[string]string{"name": name, "country": country, "kind": kind}).json(h.t, into)
	}
	org("alpha", "Alpha Secretariat", "CH", "secretariat", &w.orgA1)
	org("alpha", "Miners of Kyrgyzstan", "KG", "affiliate", &w.orgA2)
	org("beta", "Beta Builders", "FR", "affiliate", &w.orgB)
	user := func(tenant, email, orgID string, roles ...string) string {
		var m auth.Member
		w.super.must(201, "POST", "/api/v1/tenants/"+tenant+"/users", map[string]any{
			"email": email, "name": email, "password": testPassword, "organization_id": orgID, "roles": roles}).json(h.t, &m)
		return m.ID
	}
	user("alpha", "admin@alpha.test", w.orgA1.ID, "tenant_admin")
	user("alpha", "reviewer@alpha.test", w.orgA1.ID, "reviewer")
	w.editorA1ID = user("alpha", "editor@alpha.test", w.orgA1.ID, "editor")
	w.viewerA2ID = user("alpha", "viewer@alpha.test", w.orgA2.ID, "viewer")
	user("alpha", "editor2@alpha.test", w.orgA2.ID, "editor")
	user("beta", "admin@beta.test", w.orgB.ID, "tenant_admin")
	w.adminA = h.login("admin@alpha.test")
	w.reviewerA = h.login("reviewer@alpha.test")
	w.editorA1 = h.login("editor@alpha.test")
	w.viewerA2 = h.login("viewer@alpha.test")
	w.editorA2 = h.login("editor2@alpha.test")
	w.adminB = h.login("admin@beta.test")

	w.reviewerA.must(201, "POST", "/api/v1/tenants/alpha/cases", map[string]any{
		"number": "3386", "country": "KG", "title": "Kyrgyzstan", "complainants": []string{"Alpha Federation"}}).json(h.t, &w.caseA)
	// A CFA session far ahead, so that the calendar's routes have a target.
	w.adminA.must(201, "POST", "/api/v1/tenants/alpha/cfa-sessions", map[string]any{"name": "Fixture Session",
		"starts_on": h.clock.Now().UTC().AddDate(0, 0, 220).Format(time.DateOnly), "deadline": h.clock.Now().UTC().AddDate(0, 0, 200).Format(time.DateOnly)})
	w.editorA1.must(201, "POST", "/api/v1/tenants/alpha/submissions", map[string]any{
		"case_id": w.caseA.ID, "kind": "additional_information", "title": "Update " + secretMarker,
		"body": "The union leader " + secretMarker + " was arrested.", "language": "en"}).json(h.t, &w.submissionA)
	w.editorA1.upload(201, w.submissionA.ID, "witness statement.txt", "text/plain", []byte("Statement of "+secretMarker+"\n"))
	w.editorA1.must(200, "POST", "/api/v1/tenants/alpha/submissions/"+w.submissionA.ID+"/transitions",
		map[string]string{"action": "submit"}).json(h.t, &w.submissionA)
	w.reviewerA.must(201, "POST", "/api/v1/tenants/alpha/submissions/"+w.submissionA.ID+"/comments",
		map[string]any{"body": "Please add the date of the arrest " + secretMarker})
	return w
}

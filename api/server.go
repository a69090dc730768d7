// Package api is the portal's HTTP interface: the echo server, its middleware, the
// routes of /api/v1 with the permission each requires, request and response types, and
// the one place where domain errors become RFC 9457 problem documents. Nothing imports
// it but cmd/unionportal.
package api

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/clientip"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/inbound"
	"github.com/unionportal/unionportal/logctx"
	"github.com/unionportal/unionportal/webhook"
	"github.com/unionportal/unionportal/workflow"
)

// Options configure a Server. The zero value serves with safe defaults.
type Options struct {
	Logger *slog.Logger
	// HTTPS is true when the portal is reached over TLS (its base URL is https):
	// responses then carry Strict-Transport-Security.
	HTTPS bool
	// MaxBodyBytes bounds request bodies; 0 means 4 MiB.
	MaxBodyBytes int64
	// RequestTimeout bounds how long a request may work before it fails with 503; 0 means
	// 30 seconds. It keeps a request from hanging on a database that stopped answering.
	RequestTimeout time.Duration
	// TrustedProxies are the networks whose X-Forwarded-For header is believed when
	// finding a client's address. Without any, the connection's address is used.
	TrustedProxies []*net.IPNet
	// IPRetention is how much of a client's address is stored and logged (the zero
	// value: its network only). Limits per address work on the whole address in memory.
	IPRetention clientip.Retention
	// Checks are what /readyz verifies, such as the database and the storage.
	Checks []Check
	// Version is reported by /healthz.
	Version string
	// Auth and Workflow serve /api/v1; without Auth only the health routes exist.
	Auth     *auth.Service
	Workflow *workflow.Service
	// Dispatch renders letters and lists dispatches; without it those routes are absent.
	Dispatch *dispatch.Service
	// Webhooks manages the tenants' webhook endpoints; without it those routes are absent.
	Webhooks *webhook.Service
	// Inbound reads the tenants' mailboxes for the ILO's answers; without it the mailbox
	// settings' routes are absent (the correspondence thread needs Dispatch).
	Inbound *inbound.Service
	// SessionAbsolute is the lifetime of the session cookie (default 12 h).
	SessionAbsolute time.Duration
	// MaxConcurrentUploads bounds uploads running at once (default 4); each holds one
	// storage part buffer.
	MaxConcurrentUploads int
	// Metrics is served at /metrics; nil serves the process and Go runtime metrics only.
	Metrics *prometheus.Registry
	// BodyReadTimeout bounds how long a request body (other than an upload) may take to
	// arrive; 0 means 15 seconds.
	BodyReadTimeout time.Duration
	// MinTransferBytes and TransferWindow are the slowest an upload or download may go:
	// one that moves fewer bytes in a window is cut off (default 32 KiB per 15 s).
	MinTransferBytes int64
	TransferWindow   time.Duration
	// MaxPublicPerAddress bounds the unauthenticated requests (login) one address may
	// have open at once; 0 means 8.
	MaxPublicPerAddress int
	// UI is the built web interface (index.html at its root), served at /; without it,
	// UIPlaceholder is served there instead (when set).
	UI            fs.FS
	UIPlaceholder []byte
}

// Server is the portal's HTTP server.
type Server struct {
	echo *echo.Echo
	log  *slog.Logger
	opts Options
	// access records what each route requires, and docs how it is called, by
	// "METHOD /path".
	access map[string]Access
	docs   map[string]Doc

	// requests counts responses by route and status class for /metrics, and latency
	// times them by route and method.
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	openapiOnce sync.Once
	openapiDoc  []byte
	// uploads holds a slot per running upload.
	uploads chan struct{}
	// refusals limits how many refused requests each principal can write to the audit trail.
	refusals *refusalLimiter
	// public counts each address's open unauthenticated requests.
	public *addressSlots
}

// New builds the server and registers every route.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Logger = logctx.Logger(opts.Logger)
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 4 << 20
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	if opts.SessionAbsolute <= 0 {
		opts.SessionAbsolute = 12 * time.Hour
	}
	if opts.MaxConcurrentUploads <= 0 {
		opts.MaxConcurrentUploads = 4
	}
	if opts.BodyReadTimeout <= 0 {
		opts.BodyReadTimeout = defaultBodyReadTimeout
	}
	if opts.MinTransferBytes <= 0 {
		opts.MinTransferBytes = defaultMinTransferBytes
	}
	if opts.TransferWindow <= 0 {
		opts.TransferWindow = defaultTransferWindow
	}
	if opts.MaxPublicPerAddress <= 0 {
		opts.MaxPublicPerAddress = defaultMaxPublicPerAddress
	}
	s := &Server{echo: e, log: opts.Logger, opts: opts, access: map[string]Access{}, docs: map[string]Doc{},
		uploads: make(chan struct{}, opts.MaxConcurrentUploads), refusals: newRefusalLimiter(),
		public: &addressSlots{max: opts.MaxPublicPerAddress, count: map[string]int{}},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "unionportal", Subsystem: "http",
			Name: "responses_total", Help: "HTTP responses by route and status class."}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "unionportal", Subsystem: "http",
			Name: "request_duration_seconds", Help: "Time from a request's arrival to its answer, by route and method.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}}, []string{"route", "method"})}
	e.HTTPErrorHandler = s.errorHandler
	e.IPExtractor = ipExtractor(opts.TrustedProxies)

	e.Pre(dropInvalidRequestID)
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: newRequestID}))
	e.Use(s.logContext)
	e.Use(traceRequests)
	e.Use(s.accessLog())
	e.Use(s.recoverPanics())
	e.Use(s.securityHeaders())
	e.Use(s.slowClients())
	// Text no route may store: NUL and bytes that are not UTF-8 in path and query.
	e.Use(checkRequestText)
	// Uploads and downloads of evidence have their own limits and may take longer than a
	// JSON request.
	e.Use(middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: byteLimit(opts.MaxBodyBytes), Skipper: isFileTransfer}))
	e.Use(middleware.ContextTimeoutWithConfig(middleware.ContextTimeoutConfig{Timeout: opts.RequestTimeout, Skipper: isFileTransfer}))

	s.routes()
	s.uiRoutes()
	return s
}

func (s *Server) routes() {
	s.echo.GET("/healthz", s.healthz)
	s.echo.GET("/readyz", s.readyz)
	s.echo.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.metricsRegistry(), promhttp.HandlerOpts{})))
	if s.opts.Auth == nil {
		return
	}
	const v1 = "/api/v1"
	// The health routes are served at the root for orchestrators and again under /api/v1,
	// where the document describes them, for clients generated from it.
	s.route(http.MethodGet, v1+"/healthz", Public(), s.healthz, Doc{ID: "getHealth", Summary: "Liveness: the process answers",
		Description: "Also served at /healthz, outside /api/v1, for orchestrators' liveness probes.", Response: Health{}})
	s.route(http.MethodGet, v1+"/readyz", Public(), s.readyz, Doc{ID: "getReadiness", Summary: "Readiness: the database and the storage answer, within 2 seconds",
		Description: "Also served at /readyz, outside /api/v1, for load balancers and readiness probes. 503 is a not_ready problem naming each failed check.",
		Response:    Readiness{}})
	s.route(http.MethodGet, v1+"/openapi.json", Public(), s.serveOpenAPI, Doc{ID: "getOpenAPI", Summary: "This API's OpenAPI 3.1 document", Response: map[string]any{}})
	s.route(http.MethodPost, v1+"/auth/login", Public(), s.login, Doc{ID: "login", Summary: "Log in; sets the session cookie, or, for an account with a second factor, the pending cookie",
		Description: "An account with a second factor answers {second_factor_required: true, methods, webauthn?} and a pending cookie for 5 minutes: " +
			"complete the login with POST /auth/second-factor. A wrong password answers the same 401 whatever the account has.",
		Request: loginRequest{}, Required: []string{"email", "password"}, Response: loginResult{}, RateLimited: true, Errors: []int{http.StatusUnauthorized}})
	s.route(http.MethodPost, v1+"/auth/logout", Authenticated().DuringEnrolment(), s.logout, Doc{ID: "logout", Summary: "Log out: end this session", Status: http.StatusNoContent})
	s.route(http.MethodGet, v1+"/me", Authenticated().DuringEnrolment(), s.me, Doc{ID: "getMe", Summary: "The logged-in user, memberships, second-factor status and CSRF token", Response: meResponse{}})
	s.factorRoutes(v1)
	s.route(http.MethodPost, v1+"/me/password", Authenticated(), s.changePassword, Doc{ID: "changePassword", Summary: "Change your password (browser session only); your other sessions end",
		Request: passwordChangeRequest{}, Required: []string{"current_password", "new_password"}, Status: http.StatusNoContent, RateLimited: true})
	s.route(http.MethodGet, v1+"/me/invitations", Authenticated(), s.myInvitations, Doc{ID: "listMyInvitations", Summary: "Your pending invitations to tenants (all of them)", Response: auth.MyInvitation{}, List: true})
	s.route(http.MethodPost, v1+"/me/invitations/:id/accept", Authenticated(), s.acceptInvitation, Doc{ID: "acceptInvitation", Summary: "Accept an invitation: join the tenant (browser session only)", Status: http.StatusNoContent, Errors: []int{http.StatusConflict}})
	s.route(http.MethodPost, v1+"/me/invitations/:id/decline", Authenticated(), s.declineInvitation, Doc{ID: "declineInvitation", Summary: "Decline an invitation (browser session only)", Status: http.StatusNoContent, Errors: []int{http.StatusConflict}})
	s.route(http.MethodPut, v1+"/me/language", Authenticated(), s.setLanguage, Doc{ID: "setLanguage", Summary: "Choose your interface language (BCP 47; \"\" for the browser's)", Request: languageRequest{}, Response: languageRequest{}})
	s.route(http.MethodGet, v1+"/me/tokens", Authenticated(), s.listTokens, Doc{ID: "listTokens", Summary: "Your API tokens", Response: auth.APIToken{}, List: true, Paged: true})
	s.route(http.MethodPost, v1+"/me/tokens", Authenticated().StepUp(), s.createToken, Doc{ID: "createToken", Summary: "Create an API token (shown once)",
		Request: tokenRequest{}, Required: []string{"name"}, Response: auth.NewToken{}, Status: http.StatusCreated})
	s.route(http.MethodDelete, v1+"/me/tokens/:id", Authenticated(), s.revokeToken, Doc{ID: "revokeToken", Summary: "Revoke one of your API tokens", Status: http.StatusNoContent})

	s.route(http.MethodGet, v1+"/tenants", Authenticated(), s.listTenants, Doc{ID: "listTenants", Summary: "Your tenants (all, for a superadmin)", Response: auth.Tenant{}, List: true, Paged: true})
	s.route(http.MethodPost, v1+"/tenants", Platform(), s.createTenant, Doc{ID: "createTenant", Summary: "Create a tenant (superadmin)",
		Request: tenantRequest{}, Required: []string{"slug", "name"}, Response: auth.Tenant{}, Status: http.StatusCreated, Errors: []int{http.StatusConflict}})
	s.route(http.MethodGet, v1+"/tenants/:tenant", Tenant(auth.PermTenantRead), s.getTenant, Doc{ID: "getTenant", Summary: "A tenant", Response: auth.Tenant{}})
	s.route(http.MethodGet, v1+"/tenants/:tenant/organizations", Tenant(auth.PermOrganizationRead), s.listOrganizations, Doc{ID: "listOrganizations", Summary: "The tenant's organizations, by name", Response: auth.Organization{}, List: true, Paged: true})
	s.route(http.MethodPost, v1+"/tenants/:tenant/organizations", Tenant(auth.PermOrganizationManage), s.createOrganization, Doc{ID: "createOrganization", Summary: "Add an affiliate or the secretariat",
		Request: auth.OrganizationInput{}, Required: []string{"name", "country", "kind"}, Response: auth.Organization{}, Status: http.StatusCreated, Errors: []int{http.StatusConflict}})
	s.route(http.MethodGet, v1+"/tenants/:tenant/organizations/:id", Tenant(auth.PermOrganizationRead), s.getOrganization, Doc{ID: "getOrganization", Summary: "An organization", Response: auth.Organization{}})
	s.route(http.MethodGet, v1+"/tenants/:tenant/users", Tenant(auth.PermUserRead), s.listUsers, Doc{ID: "listMembers", Summary: "The tenant's members, by e-mail", Response: auth.Member{}, List: true, Paged: true})
	s.route(http.MethodPost, v1+"/tenants/:tenant/users", Tenant(auth.PermUserManage).StepUp(), s.createUser, Doc{ID: "addMember",
		Summary: "Invite a member (a tenant admin; the same answer whether or not the e-mail has an account), or add one at once (a superadmin)",
		Request: auth.UserInput{}, Required: []string{"email", "organization_id", "roles"},
		Description: "name and password are required when the e-mail has no account here yet (the password is then the new account's first one)", Response: memberAdded{}, Status: http.StatusCreated, Errors: []int{http.StatusConflict}})
	s.route(http.MethodPatch, v1+"/tenants/:tenant/users/:id", Tenant(auth.PermUserManage).StepUp(), s.updateUser, Doc{ID: "updateMember", Summary: "Change a member's organization, roles or active state",
		Request: auth.UserPatch{}, Response: auth.Member{}, Errors: []int{http.StatusConflict}})
	s.route(http.MethodDelete, v1+"/tenants/:tenant/users/:id", Tenant(auth.PermUserManage).StepUp(), s.deactivateUser, Doc{ID: "deactivateMember", Summary: "Deactivate a membership", Status: http.StatusNoContent, Errors: []int{http.StatusConflict}})
	s.route(http.MethodGet, v1+"/tenants/:tenant/invitations", Tenant(auth.PermUserRead), s.listInvitations, Doc{ID: "listInvitations", Summary: "The tenant's invitations, newest first", Response: auth.Invitation{}, List: true, Paged: true})
	s.route(http.MethodGet, v1+"/tenants/:tenant/invitations/:id", Tenant(auth.PermUserRead), s.getInvitation, Doc{ID: "getInvitation", Summary: "An invitation", Response: auth.Invitation{}})
	s.route(http.MethodDelete, v1+"/tenants/:tenant/invitations/:id", Tenant(auth.PermUserManage).StepUp(), s.revokeInvitation, Doc{ID: "revokeInvitation", Summary: "Revoke a pending invitation", Status: http.StatusNoContent, Errors: []int{http.StatusConflict}})
	s.route(http.MethodGet, v1+"/tenants/:tenant/audit-events", Tenant(auth.PermAuditRead), s.listAuditEvents, Doc{ID: "listAuditEvents",
		Summary: "The tenant's audit trail, newest first (tenant admins)",
		Description: "The tenant's events, and the account events of its current members since they joined (password and second-factor changes; tenant_id null). " +
			"Events carry ids, actions and short details, never texts; ip is what UNIONPORTAL_IP_RETENTION kept when the event was written.",
		Response: audit.Event{}, List: true, Paged: true, Query: auditQuery()})
	s.route(http.MethodGet, v1+"/tenants/:tenant/audit-events.csv", Tenant(auth.PermAuditRead), s.exportAuditEvents, Doc{ID: "exportAuditEvents",
		Summary: "The tenant's audit trail as CSV, newest first (tenant admins), with the filters of listAuditEvents",
		Description: "Columns: id, seq, created_at, tenant_id, actor_id, action, object_type, object_id, ip, details, hash. At most limit rows (10000) per file; " +
			"when there are more, the Link header names the next file. A cell beginning with =, +, -, @, a tab or a carriage return is prefixed with an apostrophe.",
		Content: "text/csv", Paged: true, MaxLimit: auditCSVRows, Query: auditQuery()})
	if s.opts.Workflow == nil {
		return
	}
	const t = v1 + "/tenants/:tenant"
	s.route(http.MethodGet, t+"/settings", Tenant(auth.PermSettingsRead), s.getSettings, Doc{ID: "getSettings", Summary: "Tenant settings", Response: workflow.Settings{}})
	s.route(http.MethodPut, t+"/settings", Tenant(auth.PermSettingsWrite).StepUp(), s.putSettings, Doc{ID: "putSettings", Summary: "Replace the tenant settings", Request: workflow.Settings{}, Response: workflow.Settings{}})
	s.route(http.MethodGet, t+"/security", Tenant(auth.PermSettingsRead), s.getSecurityPolicy,
		Doc{ID: "getSecurityPolicy", Summary: "The tenant's second-factor policy", Response: auth.SecurityPolicy{}})
	s.route(http.MethodPut, t+"/security", Tenant(auth.PermSettingsWrite).StepUp(), s.putSecurityPolicy,
		Doc{ID: "putSecurityPolicy", Summary: "Set who among the tenant's members must have a second factor (superadmins always must)",
			Description: "privileged_roles (tenant_admin, reviewer, signatory; the default), all_members, or none. It holds from every member's next request.",
			Request:     auth.SecurityPolicy{}, Required: []string{"second_factor_required_for"}, Response: auth.SecurityPolicy{}})
	s.route(http.MethodGet, t+"/sender-domains", Tenant(auth.PermSettingsRead), s.listSenderDomains,
		Doc{ID: "listSenderDomains", Summary: "Sender domains verified for the tenant: dispatch.from.address and dispatch.reply_to must be at one of them", Response: workflow.SenderDomain{}, List: true})
	s.route(http.MethodPost, t+"/sender-domains", Platform().StepUp(), s.addSenderDomain,
		Doc{ID: "addSenderDomain", Summary: "Verify a sender domain for the tenant (superadmin)", Request: senderDomainRequest{}, Required: []string{"domain"},
			Response: workflow.SenderDomain{}, Status: http.StatusCreated, Errors: []int{http.StatusNotFound, http.StatusConflict}})
	s.route(http.MethodDelete, t+"/sender-domains/:domain", Platform().StepUp(), s.removeSenderDomain,
		Doc{ID: "removeSenderDomain", Summary: "Withdraw a verified sender domain (superadmin)", Status: http.StatusNoContent})
	s.route(http.MethodGet, t+"/cases", Tenant(auth.PermCaseRead), s.listCases, Doc{ID: "listCases", Summary: "Cases, newest first", Response: workflow.Case{}, List: true, Paged: true})
	s.route(http.MethodPost, t+"/cases", Tenant(auth.PermCaseCreate), s.createCase, Doc{ID: "createCase", Summary: "Record a case",
		Request: workflow.CaseInput{}, Required: []string{"country", "title"}, Response: workflow.Case{}, Status: http.StatusCreated, Errors: []int{http.StatusConflict}})
	s.route(http.MethodGet, t+"/cases/:id", Tenant(auth.PermCaseRead), s.getCase, Doc{ID: "getCase", Summary: "A case", Response: workflow.Case{}})
	s.route(http.MethodPatch, t+"/cases/:id", Tenant(auth.PermCaseUpdate), s.updateCase, Doc{ID: "updateCase", Summary: "Change a case", Request: workflow.CaseInput{}, Response: workflow.Case{}, Errors: []int{http.StatusConflict}})
	// The CFA calendar (ADR 0034): members read it; tenant admins keep it.
	s.route(http.MethodGet, t+"/cfa-sessions", Tenant(auth.PermCaseRead), s.listCFASessions, Doc{ID: "listCFASessions",
		Summary: "The tenant's CFA sessions with their information deadlines, by deadline", Response: workflow.CFASession{}, List: true})
	s.route(http.MethodPost, t+"/cfa-sessions", Tenant(auth.PermSettingsWrite).StepUp(), s.createCFASession, Doc{ID: "createCFASession",
		Summary:     "Record a CFA session and the date by which information must reach the Office (tenant admins)",
		Description: "Dates are YYYY-MM-DD; the deadline may not be after starts_on (422 naming the field).",
		Request:     workflow.CFASessionInput{}, Required: []string{"name", "starts_on", "deadline"}, Response: workflow.CFASession{}, Status: http.StatusCreated})
	s.route(http.MethodPut, t+"/cfa-sessions/:id", Tenant(auth.PermSettingsWrite).StepUp(), s.updateCFASession, Doc{ID: "updateCFASession",
		Summary: "Replace a CFA session's name and dates (tenant admins); a changed deadline has its reminders again",
		Request: workflow.CFASessionInput{}, Required: []string{"name", "starts_on", "deadline"}, Response: workflow.CFASession{}})
	s.route(http.MethodDelete, t+"/cfa-sessions/:id", Tenant(auth.PermSettingsWrite).StepUp(), s.deleteCFASession, Doc{ID: "deleteCFASession",
		Summary: "Delete a CFA session (tenant admins)", Status: http.StatusNoContent})
	s.route(http.MethodGet, t+"/due", Tenant(auth.PermCaseRead), s.getDue, Doc{ID: "getDue",
		Summary:     "What you have due before the tenant's next CFA information deadline",
		Description: "The open drafts (draft, changes requested) you contributed to and, for reviewers, those of the tenant you may see; and the ILO's requests for further information still open, of the cases whose correspondence you see.",
		Response:    workflow.Due{}})
	// Submission routes need only tenant:read at the door: what a caller may see and do
	// depends on the submission (its organization, state and authors), so the workflow
	// service decides, from its table and the caller's scope.
	s.route(http.MethodGet, t+"/submissions", Tenant(auth.PermTenantRead), s.listSubmissions, Doc{ID: "listSubmissions", Summary: "Submissions you may see, newest first",
		Response: workflow.SubmissionSummary{}, List: true, Paged: true, Query: []Param{
			{Name: "state", Description: "Only submissions in this state", Schema: map[string]any{"type": "string", "enum": stringsOf(workflow.States())}},
			queryUUID("case_id", "Only this case's submissions"), queryUUID("organization_id", "Only this organization's submissions"),
			queryString("q", "Words in the title (texts are encrypted at rest and not searched)"),
			{Name: "updated_since", Description: "Only submissions changed at or after this time (RFC 3339)", Schema: map[string]any{"type": "string", "format": "date-time"}}}})
	s.route(http.MethodPost, t+"/submissions", Tenant(auth.PermSubmissionWriteOwn), s.createSubmission, Doc{ID: "createSubmission", Summary: "Start a draft for your organization",
		Request: workflow.SubmissionInput{}, Required: []string{"case_id", "kind", "title", "language"}, Response: workflow.SubmissionView{}, Status: http.StatusCreated, ETag: true})
	s.route(http.MethodGet, t+"/submissions/:id", Tenant(auth.PermTenantRead), s.getSubmission, Doc{ID: "getSubmission", Summary: "A submission with its allowed actions (ETag: its version)", Response: workflow.SubmissionView{}, ETag: true})
	s.route(http.MethodPatch, t+"/submissions/:id", Tenant(auth.PermSubmissionWriteOwn), s.updateSubmission, Doc{ID: "updateSubmission", Summary: "Edit a draft (If-Match required)",
		Request: workflow.SubmissionInput{}, Response: workflow.SubmissionView{}, ETag: true,
		Headers: []Param{{Name: "If-Match", Description: "The ETag of the version you edited", Required: true, Schema: map[string]any{"type": "string"}}},
		Errors:  []int{http.StatusConflict, http.StatusPreconditionFailed, http.StatusPreconditionRequired}})
	s.route(http.MethodDelete, t+"/submissions/:id", Tenant(auth.PermSubmissionWriteOwn), s.deleteSubmission, Doc{ID: "deleteSubmission", Summary: "Delete a draft that was never submitted", Status: http.StatusNoContent, Errors: []int{http.StatusConflict}})
	s.route(http.MethodPost, t+"/submissions/:id/transitions", Tenant(auth.PermTenantRead).StepUpForActions(), s.transition, Doc{ID: "transitionSubmission", Summary: "Take a workflow action",
		Description: "The action must be one of the submission's allowed_actions; request_changes, reject and withdraw require a comment. " +
			"approve, sign and reject need a second factor used within the last 10 minutes (401 reauthentication_required), or a token with step_up.",
		Request: transitionRequest{}, Required: []string{"action"}, Response: workflow.SubmissionView{}, ETag: true, Errors: []int{http.StatusConflict}})
	s.route(http.MethodGet, t+"/submissions/:id/receivability", Tenant(auth.PermTenantRead), s.getReceivability,
		Doc{ID: "getReceivability", Summary: "The receivability checks as the submission stands: ready, or each failed check (changes nothing)", Response: workflow.Receivability{}})
	s.route(http.MethodGet, t+"/submissions/:id/snapshot", Tenant(auth.PermTenantRead), s.getSnapshot,
		Doc{ID: "getApprovalSnapshot", Summary: "What the final approval froze and dispatch sends: dispatch settings and case (404 before approval)", Response: workflow.ApprovalSnapshot{}})
	s.route(http.MethodGet, t+"/submissions/:id/revisions", Tenant(auth.PermTenantRead), s.listRevisions, Doc{ID: "listRevisions", Summary: "Revisions, oldest first (without bodies)", Response: workflow.Revision{}, List: true})
	s.route(http.MethodGet, t+"/submissions/:id/revisions/:n", Tenant(auth.PermTenantRead), s.getRevision, Doc{ID: "getRevision", Summary: "Revision n", Response: workflow.Revision{}})
	s.route(http.MethodGet, t+"/submissions/:id/diff", Tenant(auth.PermTenantRead), s.diff, Doc{ID: "diffRevisions", Summary: "Word-level diff of two revisions", Response: workflow.Diff{},
		Query: []Param{
			{Name: "from", Description: "The older revision", Required: true, Schema: map[string]any{"type": "integer", "minimum": 1}},
			{Name: "to", Description: "The newer revision", Required: true, Schema: map[string]any{"type": "integer", "minimum": 1}}}})
	s.route(http.MethodGet, t+"/submissions/:id/comments", Tenant(auth.PermCommentRead), s.listComments, Doc{ID: "listComments", Summary: "Comments, oldest first", Response: workflow.Comment{}, List: true})
	s.route(http.MethodPost, t+"/submissions/:id/comments", Tenant(auth.PermCommentCreate), s.addComment, Doc{ID: "addComment", Summary: "Comment on a submission",
		Request: commentRequest{}, Required: []string{"body"}, Response: workflow.Comment{}, Status: http.StatusCreated, Errors: []int{http.StatusConflict, http.StatusGone}})
	s.route(http.MethodGet, t+"/comments/:id", Tenant(auth.PermCommentRead), s.getComment, Doc{ID: "getComment", Summary: "A comment", Response: workflow.Comment{}})
	s.route(http.MethodGet, t+"/submissions/:id/attachments", Tenant(auth.PermTenantRead), s.listAttachments,
		Doc{ID: "listAttachments", Summary: "The submission's evidence files", Response: workflow.Attachment{}, List: true})
	s.route(http.MethodPost, t+"/submissions/:id/attachments", Tenant(auth.PermSubmissionWriteOwn), s.upload,
		Doc{ID: "uploadAttachment", Summary: "Upload an evidence file: multipart/form-data with the field \"file\", or the file itself as the body",
			Description: "Two forms, one answer. multipart/form-data: one file in the field \"file\". Any other Content-Type (the file's type, or " +
				"application/octet-stream): the body is the file, Content-Length is required (411 length_required without it) and the name is in " +
				"Content-Disposition: attachment; filename*=UTF-8''<name, percent-encoded> (RFC 6266 and 5987; 400 naming Content-Disposition without it). " +
				"Either way the type is detected from the content, the limits, hash, malware scan and encryption are the same. " +
				"For large files over unreliable connections, upload in pieces with tus (…/uploads).",
			Multipart: true, RawBody: "*/*", Response: workflow.Attachment{}, Status: http.StatusCreated,
			Headers: []Param{{Name: "Content-Disposition", Description: "With a raw body (not multipart): attachment; filename*=UTF-8''<the file's name, percent-encoded>", Schema: map[string]any{"type": "string"}}},
			Errors:  []int{http.StatusConflict, http.StatusLengthRequired, http.StatusTooManyRequests, http.StatusInsufficientStorage}})
	s.uploadRoutes(t)
	s.route(http.MethodGet, t+"/attachments/:id", Tenant(auth.PermTenantRead), s.getAttachment,
		Doc{ID: "getAttachment", Summary: "An evidence file's record", Response: workflow.Attachment{}})
	s.route(http.MethodDelete, t+"/attachments/:id", Tenant(auth.PermSubmissionWriteOwn), s.deleteAttachment,
		Doc{ID: "deleteAttachment", Summary: "Remove an evidence file from a draft", Status: http.StatusNoContent, Errors: []int{http.StatusConflict}})
	s.route(http.MethodGet, t+"/attachments/:id/content", Tenant(auth.PermTenantRead), s.downloadAttachment,
		Doc{ID: "downloadAttachment", Summary: "Download an evidence file (Range supported)", Content: "*/*", ETag: true, Ranges: true,
			Description: "410 shredded: the tenant's retention policy deleted the file; its record (size, type, SHA-256) remains.", Errors: []int{http.StatusGone},
			Query: []Param{{Name: "redirect", Description: "1: answer 302 to a short-lived presigned URL when the storage has them and the file is stored in clear (before encryption at rest); encrypted files are always served by the portal", Schema: map[string]any{"type": "string", "enum": []string{"1"}}},
				{Name: "original", Description: "1: the file as uploaded, identifying metadata included (the uploader's organization and the secretariat only; the default for them); 0: the copy without identifying metadata (the default, and only choice, for anyone else)", Schema: map[string]any{"type": "string", "enum": []string{"0", "1"}}}}})
	if s.opts.Dispatch != nil {
		s.route(http.MethodGet, t+"/submissions/:id/letter.pdf", Tenant(auth.PermTenantRead), s.letter,
			Doc{ID: "previewLetter", Summary: "The letter as it would be sent today (A4 PDF), for review before approval", Content: "application/pdf",
				Description: "410 shredded: the submission's texts were deleted under the tenant's retention policy.", Errors: []int{http.StatusGone}})
		s.route(http.MethodGet, t+"/submissions/:id/dispatches", Tenant(auth.PermTenantRead), s.listDispatches,
			Doc{ID: "listDispatches", Summary: "Dispatch attempts with each recipient's outcome", Response: dispatch.Dispatch{}, List: true})
		s.route(http.MethodGet, t+"/dispatches/:id/letter.pdf", Tenant(auth.PermTenantRead), s.asSent,
			Doc{ID: "getSentLetter", Summary: "The exact letter a dispatch sent", Content: "application/pdf", ETag: true,
				Description: "410 shredded: the tenant's retention policy deleted the stored letter; the dispatch's record (sent_files) keeps its SHA-256.", Errors: []int{http.StatusGone}})
		s.route(http.MethodGet, t+"/dispatches/:id/manifest.json", Tenant(auth.PermTenantRead), s.asSent,
			Doc{ID: "getSentManifest", Summary: "What a dispatch sent: recipients, Message-ID, time, SHA-256 of every file", Response: dispatch.Manifest{}, ETag: true,
				Description: "410 shredded: the tenant's retention policy deleted the stored manifest; the dispatch's record keeps its date, deliveries, Message-ID and sent_files.", Errors: []int{http.StatusGone}})
		s.route(http.MethodGet, "/api/v1/evidence/:token", Public(), s.evidenceLink,
			Doc{ID: "downloadLinkedEvidence", Summary: "An evidence file a dispatch e-mail linked to (too large to attach): the copy the e-mail would have attached, for 7 days, without an account",
				Content: "*/*", Ranges: true, Errors: []int{http.StatusGone}})
	}
	s.correspondenceRoutes(t)
	s.route(http.MethodGet, t+"/submissions/:id/events", Tenant(auth.PermEventRead), s.listEvents, Doc{ID: "listSubmissionEvents", Summary: "The submission's timeline (audit events)", Response: audit.Event{}, List: true, Paged: true})
	s.webhookRoutes(t)
}

// Handler returns the server as an http.Handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.echo }

// Echo returns the underlying router, for tests that add routes or walk the table.
func (s *Server) Echo() *echo.Echo { return s.echo }

// Serve accepts connections on ln until ctx is cancelled, then stops accepting and
// lets in-flight requests finish for up to drain before closing what remains.
func (s *Server) Serve(ctx context.Context, ln net.Listener, drain time.Duration) error {
	srv := &http.Server{
		Handler: s.echo,
		// Bodies and answers get per-request deadlines (slowClients); headers and idle
		// connections get these.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: no new connections; draining requests", "timeout", drain)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("requests still running after the drain timeout; closing them")
		err = srv.Close()
	}
	if serr := <-served; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// ipExtractor finds the client address: the direct peer, unless the peer is a trusted
// proxy, in which case the nearest untrusted address in X-Forwarded-For.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// metricsRegistry adds the HTTP and runtime metrics to the configured registry.
func (s *Server) metricsRegistry() *prometheus.Registry {
	reg := s.opts.Metrics
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), s.requests, s.latency)
	return reg
}

// isFileTransfer matches the upload and download routes of attachments, and the pieces
// of resumable uploads.
func isFileTransfer(c echo.Context) bool {
	p := c.Path()
	return strings.HasSuffix(p, "/submissions/:id/attachments") && c.Request().Method == http.MethodPost ||
		strings.HasSuffix(p, "/submissions/:id/uploads/:upload") && c.Request().Method == http.MethodPatch ||
		strings.HasSuffix(p, "/attachments/:id/content")
}

func byteLimit(n int64) string { return strconv.FormatInt(n, 10) + "B" }

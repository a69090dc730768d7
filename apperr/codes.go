package apperr

// The stable machine codes of problems, in one catalogue: clients branch on them, so a
// code is never reused with another meaning and never renamed. The OpenAPI document
// publishes Codes as the enum of a problem's code.
const (
	// Requests that cannot be read or are refused before anything is looked at.
	CodeMalformedRequest     = "malformed_request"
	CodeValidationFailed     = "validation_failed"
	CodeUnsupportedMediaType = "unsupported_media_type"
	CodeRequestTooLarge      = "request_too_large"
	CodeRequestTimeout       = "request_timeout"
	CodeBadRequest           = "bad_request"
	CodeMethodNotAllowed     = "method_not_allowed"
	CodeNotFound             = "not_found"
	CodeInternalError        = "internal_error"

	// Authentication and authorization.
	CodeUnauthenticated         = "unauthenticated"
	CodeInvalidCredentials      = "invalid_credentials"
	CodeSessionExpired          = "session_expired"
	CodeSessionRequired         = "session_required"
	CodeTokenExpired            = "token_expired"
	CodeTokenCannotCreateTokens = "token_cannot_create_tokens"
	CodeCSRFFailed              = "csrf_failed"
	CodeForbidden               = "forbidden"
	CodeTooManyAttempts         = "too_many_attempts"
	CodeTooManyConnections      = "too_many_connections"
	CodeRateLimited             = "rate_limited"
	// API token scopes and the tenant's token policy (ADR 0022).
	CodeInsufficientScope          = "insufficient_scope"
	CodeTokenLifetimeExceedsPolicy = "token_lifetime_exceeds_policy"

	// Second factors and step-up (ADR 0032).
	CodeReauthenticationRequired      = "reauthentication_required"
	CodeSecondFactorEnrolmentRequired = "second_factor_enrolment_required"
	CodeInvalidSecondFactor           = "invalid_second_factor"
	CodePendingLoginExpired           = "pending_login_expired"
	CodeChallengeExpired              = "challenge_expired"
	CodeFactorAlreadyActive           = "factor_already_active"
	CodeTooManyFactors                = "too_many_factors"
	CodeLastSecondFactor              = "last_second_factor"
	CodeNoSecondFactor                = "no_second_factor"

	// Idempotent requests (Idempotency-Key; ADR 0022).
	CodeIdempotencyKeyReused  = "idempotency_key_reused"
	CodeIdempotencyInProgress = "idempotency_in_progress"

	// Accounts, memberships, tenants.
	CodeDuplicate            = "duplicate"
	CodeAlreadyMember        = "already_member"
	CodeLastTenantAdmin      = "last_tenant_admin"
	CodeInvitationExpired    = "invitation_expired"
	CodeInvitationNotPending = "invitation_not_pending"
	CodeSenderDomainExists   = "sender_domain_exists"
	// The ILO correspondence (ADR 0036): no enabled mailbox to poll.
	CodeMailboxDisabled = "mailbox_disabled"

	// The workflow.
	CodeInvalidTransition   = "invalid_transition"
	CodeAuthorCannotApprove = "author_cannot_approve"
	CodeAuthorCannotSign    = "author_cannot_sign"
	CodeAlreadyApproved     = "already_approved"
	CodeNotReceivable       = "not_receivable"
	CodeNotEditable         = "not_editable"
	CodeNotDeletable        = "not_deletable"
	CodeIfMatchRequired     = "if_match_required"
	CodeVersionMismatch     = "version_mismatch"
	// Retention (ADR 0030): the content was deleted for good; its record remains.
	CodeShredded = "shredded"

	// Webhooks.
	CodeWebhookDisabled = "webhook_disabled"

	// Evidence files.
	CodeFileTooLarge     = "file_too_large"
	CodeFileTypeRefused  = "file_type_refused"
	CodeFileTypeMismatch = "file_type_mismatch"
	CodeFileInfected     = "file_infected"
	CodeTooManyUploads   = "too_many_uploads"
	// Resumable uploads (tus).
	CodeUploadOffsetMismatch = "upload_offset_mismatch"
	CodeUploadBusy           = "upload_busy"
	CodeTusVersion           = "tus_version_unsupported"
	CodeLengthRequired       = "length_required"

	// Services.
	CodeNotReady                  = "not_ready"
	CodeServiceUnavailable        = "service_unavailable"
	CodeDatabaseUnavailable       = "database_unavailable"
	CodeStorageUnavailable        = "storage_unavailable"
	CodeStorageFull               = "storage_full"
	CodeMalwareScannerUnavailable = "malware_scanner_unavailable"
	// A download link whose time is up.
	CodeLinkExpired = "link_expired"
	// Work stopped by its deadline.
	CodeRenderTimeout = "render_timeout"
	CodeDiffTimeout   = "diff_timeout"
)

// Codes lists every code of the catalogue, for the OpenAPI document.
func Codes() []string {
	return []string{
		CodeMalformedRequest, CodeValidationFailed, CodeUnsupportedMediaType, CodeRequestTooLarge, CodeRequestTimeout,
		CodeBadRequest, CodeMethodNotAllowed, CodeNotFound, CodeInternalError, CodeMailboxDisabled,
		CodeUnauthenticated, CodeInvalidCredentials, CodeSessionExpired, CodeSessionRequired, CodeTokenExpired,
		CodeTokenCannotCreateTokens, CodeCSRFFailed, CodeForbidden, CodeTooManyAttempts, CodeTooManyConnections, CodeRateLimited,
		CodeInsufficientScope, CodeTokenLifetimeExceedsPolicy,
		CodeReauthenticationRequired, CodeSecondFactorEnrolmentRequired, CodeInvalidSecondFactor, CodePendingLoginExpired,
		CodeChallengeExpired, CodeFactorAlreadyActive, CodeTooManyFactors, CodeLastSecondFactor, CodeNoSecondFactor,
		CodeIdempotencyKeyReused, CodeIdempotencyInProgress,
		CodeDuplicate, CodeAlreadyMember, CodeLastTenantAdmin, CodeInvitationExpired, CodeInvitationNotPending, CodeSenderDomainExists,
		CodeInvalidTransition, CodeAuthorCannotApprove, CodeAuthorCannotSign, CodeAlreadyApproved, CodeNotReceivable,
		CodeNotEditable, CodeNotDeletable, CodeIfMatchRequired, CodeVersionMismatch, CodeShredded,
		CodeWebhookDisabled,
		CodeFileTooLarge, CodeFileTypeRefused, CodeFileTypeMismatch, CodeFileInfected, CodeTooManyUploads,
		CodeUploadOffsetMismatch, CodeUploadBusy, CodeTusVersion, CodeLengthRequired,
		CodeNotReady, CodeServiceUnavailable, CodeDatabaseUnavailable, CodeStorageUnavailable, CodeStorageFull,
		CodeMalwareScannerUnavailable, CodeLinkExpired, CodeRenderTimeout, CodeDiffTimeout,
	}
}

// Forbidden is a 403: the caller may see the object but not do this.
func Forbidden(message string) *Error {
	return &Error{Kind: KindForbidden, Code: CodeForbidden, Message: message}
}

package workflow

import (
	"slices"

	"github.com/unionportal/unionportal/auth"
)

// Action is a step of the workflow that a user takes.
type Action string

// The actions.
const (
	ActionSubmit         Action = "submit"
	ActionWithdraw       Action = "withdraw"
	ActionStartReview    Action = "start_review"
	ActionRequestChanges Action = "request_changes"
	ActionApprove        Action = "approve"
	ActionReject         Action = "reject"
	ActionSign           Action = "sign"
	ActionResend         Action = "resend"
)

// Rule is one row of the workflow table: who may take an action, from which states, and
// where it leads. The API, the authorizer and allowed_actions are all computed from
// Table; no state check is written anywhere else.
type Rule struct {
	Action Action
	From   []State
	// To is the state the action leads to. Approve leads to Approved or Dispatching
	// once enough reviewers approved, and to InReview before that (see Service.transition).
	To         State
	Permission auth.Permission
	// OwnOrganization: only members of the submission's organization may take it.
	OwnOrganization bool
	// CommentRequired: the action must say why.
	CommentRequired bool
	// NotContributor: nobody who wrote, edited, submitted or added or removed evidence
	// of the submission may take it.
	NotContributor bool
}

// Table is the workflow.
var Table = []Rule{
	{Action: ActionSubmit, From: []State{Draft, ChangesRequested}, To: Submitted, Permission: auth.PermSubmissionWriteOwn, OwnOrganization: true},
	{Action: ActionWithdraw, From: []State{Submitted, InReview, ChangesRequested}, To: Withdrawn, Permission: auth.PermSubmissionWriteOwn, OwnOrganization: true},
	{Action: ActionStartReview, From: []State{Submitted}, To: InReview, Permission: auth.PermSubmissionReview},
	{Action: ActionRequestChanges, From: []State{Submitted, InReview}, To: ChangesRequested, Permission: auth.PermSubmissionReview, CommentRequired: true},
	{Action: ActionApprove, From: []State{Submitted, InReview}, To: Approved, Permission: auth.PermSubmissionReview, NotContributor: true},
	{Action: ActionReject, From: []State{Submitted, InReview}, To: Rejected, Permission: auth.PermSubmissionReview, CommentRequired: true},
	{Action: ActionSign, From: []State{Approved}, To: Dispatching, Permission: auth.PermSubmissionSign, NotContributor: true},
	{Action: ActionResend, From: []State{DispatchFailed}, To: Dispatching, Permission: auth.PermSubmissionResend},
}

// Actions lists every action name.
func Actions() []Action {
	out := make([]Action, len(Table))
	for i, r := range Table {
		out[i] = r.Action
	}
	return out
}

func ruleFor(a Action) (Rule, bool) {
	for _, r := range Table {
		if r.Action == a {
			return r, true
		}
	}
	return Rule{}, false
}

// actor is what the table needs to know about who acts on one submission.
type actor struct {
	can            func(auth.Permission) bool
	organizationID string // "" without a membership
	contributor    bool   // wrote or edited the submission
	approved       bool   // already approved the current revision
}

// refusal says why an actor may not take an action in a state; "" means it may.
func (r Rule) refusal(state State, who actor) string {
	switch {
	case !who.can(r.Permission):
		return "forbidden"
	case !slices.Contains(r.From, state):
		return "invalid_transition"
	case r.OwnOrganization && who.organizationID == "":
		return "forbidden"
	case r.NotContributor && who.contributor:
		return "author_cannot_" + string(r.Action)
	case r.Action == ActionApprove && who.approved:
		return "already_approved"
	}
	return ""
}

// allowedActions lists what who may do now with a submission in state owned by org.
func allowedActions(state State, org string, who actor) []Action {
	out := []Action{}
	for _, r := range Table {
		w := who
		if r.OwnOrganization && who.organizationID != org {
			w.organizationID = ""
		}
		if r.refusal(state, w) == "" {
			out = append(out, r.Action)
		}
	}
	return out
}

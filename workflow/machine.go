package workflow

import (
	"slices"

	"github.com/unionportal/unionportal/apperr"
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

// Rule is one row of the workflow's action table: who may take an action, from which
// states, and where it leads. The API, the authorizer, allowed_actions and the
// transitions themselves are all computed from the tables in this file; no state check
// is written anywhere else.
type Rule struct {
	Action Action
	From   []State
	// To is the state the action leads to.
	To State
	// Counted actions need Settings.Workflow.RequiredApprovals distinct actors on the
	// same revision: until then the submission goes to Pending instead of To; once they
	// are reached, to WithSignatory instead of To when the tenant requires a signatory.
	Counted       bool
	Pending       State
	WithSignatory State
	// Permission is what the actor needs in the tenant.
	Permission auth.Permission
	// OwnOrganization: only members of the submission's organization may take it.
	OwnOrganization bool
	// CommentRequired: the action must say why.
	CommentRequired bool
	// NotContributor: none of the submission's authors (who wrote, edited, submitted or
	// added or removed evidence of it) may take it.
	NotContributor bool
	// NewRevision: the action records the submission as a new immutable revision.
	NewRevision bool
	// AssignsReviewer: the actor becomes the submission's reviewer.
	AssignsReviewer bool
	// Freezes: the action, when it leads to To or WithSignatory, takes the approval
	// snapshot of what will be sent.
	Freezes bool
	// SignsSnapshot: the action signs the approval snapshot (its hash is recorded).
	SignsSnapshot bool
	// Event is what the tenant's event feed and its webhooks call the action taken
	// (ADR 0021); none for an action integrators are not told of, and none while a
	// counted action stays Pending.
	Event EventType
	// StepUp: the action matters: the actor must have used a second factor (or, without
	// one, the password) within the last 10 minutes, or act with a step_up token (ADR
	// 0032). The API asks for it before the action is taken.
	StepUp bool
}

// table is the workflow's actions.
var table = []Rule{
	{Action: ActionSubmit, From: []State{Draft, ChangesRequested}, To: Submitted, Permission: auth.PermSubmissionWriteOwn,
		OwnOrganization: true, NewRevision: true, Event: EventSubmitted},
	{Action: ActionWithdraw, From: []State{Submitted, InReview, ChangesRequested}, To: Withdrawn, Permission: auth.PermSubmissionWriteOwn,
		OwnOrganization: true, Event: EventWithdrawn},
	{Action: ActionStartReview, From: []State{Submitted}, To: InReview, Permission: auth.PermSubmissionReview, AssignsReviewer: true},
	{Action: ActionRequestChanges, From: []State{Submitted, InReview}, To: ChangesRequested, Permission: auth.PermSubmissionReview,
		CommentRequired: true, Event: EventChangesRequested},
	{Action: ActionApprove, From: []State{Submitted, InReview}, To: Dispatching, Counted: true, Pending: InReview, WithSignatory: Approved,
		Permission: auth.PermSubmissionReview, NotContributor: true, Freezes: true, Event: EventApproved, StepUp: true},
	{Action: ActionReject, From: []State{Submitted, InReview}, To: Rejected, Permission: auth.PermSubmissionReview, CommentRequired: true,
		Event: EventRejected, StepUp: true},
	{Action: ActionSign, From: []State{Approved}, To: Dispatching, Permission: auth.PermSubmissionSign, NotContributor: true, SignsSnapshot: true,
		Event: EventSigned, StepUp: true},
	{Action: ActionResend, From: []State{DispatchFailed}, To: Dispatching, Permission: auth.PermSubmissionResend},
}

// Audience is who is told by e-mail that a submission entered a state.
type Audience struct {
	// Authors who may still see the submission.
	Authors bool
	// Reviewers of the tenant.
	Reviewers bool
}

// StateRule is one row of the workflow's state table: what may be done to a submission
// in the state besides actions, and what entering it causes.
type StateRule struct {
	State State
	// Capabilities in this state; who has them is decided with the caller's roles and
	// organization (Service.capabilities).
	Edit, Upload, Delete, Comment bool
	// Dispatch: entering the state enqueues the dispatch, in the same transaction.
	Dispatch bool
	// Notify: entering the state tells these people, saying that the submission Notice
	// ("was sent back for changes").
	Notify Audience
	Notice string
}

// states is the workflow's state table, one row per state.
var states = []StateRule{
	{State: Draft, Edit: true, Upload: true, Delete: true, Comment: true},
	{State: Submitted, Comment: true, Notify: Audience{Reviewers: true}, Notice: "was submitted for review"},
	{State: InReview, Comment: true},
	{State: ChangesRequested, Edit: true, Upload: true, Comment: true, Notify: Audience{Authors: true}, Notice: "was sent back for changes"},
	{State: Approved, Comment: true, Notify: Audience{Authors: true}, Notice: "was approved and awaits the signatory"},
	{State: Dispatching, Comment: true, Dispatch: true},
	{State: Dispatched, Comment: true, Notify: Audience{Authors: true}, Notice: "was sent to the ILO"},
	{State: DispatchFailed, Comment: true, Notify: Audience{Authors: true, Reviewers: true}, Notice: "could not be sent to the ILO"},
	{State: Rejected, Comment: true, Notify: Audience{Authors: true}, Notice: "was rejected"},
	{State: Withdrawn, Comment: true},
}

// Rules returns the action table (a copy: the table itself cannot be changed).
func Rules() []Rule { return slices.Clone(table) }

// StateRules returns the state table (a copy).
func StateRules() []StateRule { return slices.Clone(states) }

// States lists every state, in workflow order.
func States() []State {
	out := make([]State, len(states))
	for i, r := range states {
		out[i] = r.State
	}
	return out
}

// Actions lists every action name.
func Actions() []Action {
	out := make([]Action, len(table))
	for i, r := range table {
		out[i] = r.Action
	}
	return out
}

// StepUpActions lists the actions that need a recent second factor.
func StepUpActions() []Action {
	var out []Action
	for _, r := range table {
		if r.StepUp {
			out = append(out, r.Action)
		}
	}
	return out
}

// RuleFor returns the rule of action a, if there is one.
func RuleFor(a Action) (Rule, bool) { return ruleFor(a) }

func ruleFor(a Action) (Rule, bool) {
	for _, r := range table {
		if r.Action == a {
			return r, true
		}
	}
	return Rule{}, false
}

// StateRuleOf returns the state table's row of st; an unknown state has no
// capabilities and causes nothing.
func StateRuleOf(st State) StateRule { return stateRule(st) }

func stateRule(st State) StateRule {
	for _, r := range states {
		if r.State == st {
			return r
		}
	}
	return StateRule{State: st}
}

// target is where r leads once approvals counts distinct approvals of the revision
// (including this one) and the tenant's settings are st.
func (r Rule) target(approvals int, st *Settings) State {
	if !r.Counted {
		return r.To
	}
	switch {
	case approvals < st.Workflow.RequiredApprovals:
		return r.Pending
	case st.Workflow.RequireSignatory && r.WithSignatory != "":
		return r.WithSignatory
	}
	return r.To
}

// actor is what the tables need to know about who acts on one submission.
type actor struct {
	can            func(auth.Permission) bool
	organizationID string // "" without a membership
	contributor    bool   // one of the submission's authors
	approved       bool   // already counted on the current revision
}

// refusal says why an actor may not take an action in a state; nil means it may.
// allowed lists what the actor may do instead, for the 409's body.
func (r Rule) refusal(state State, who actor, allowed func() []Action) *apperr.Error {
	switch r.check(state, who) {
	case refusedRole:
		return apperr.Forbidden("your roles do not allow " + string(r.Action) + " on this submission")
	case refusedState:
		e := apperr.New(apperr.KindConflict, apperr.CodeInvalidTransition,
			"the action "+string(r.Action)+" is not possible in state "+string(state)).With("state", state)
		if allowed != nil {
			e = e.With("allowed_actions", allowed())
		}
		return e
	case refusedContributor:
		code := apperr.CodeAuthorCannotApprove
		if r.Action == ActionSign {
			code = apperr.CodeAuthorCannotSign
		}
		return apperr.New(apperr.KindForbidden, code,
			"an author of a submission (who wrote, edited or submitted it, or added or removed its evidence) cannot "+string(r.Action)+" it")
	case refusedApproved:
		return apperr.New(apperr.KindConflict, apperr.CodeAlreadyApproved,
			"you have approved this revision already; another reviewer must approve")
	}
	return nil
}

// refusedBy is why a rule refuses: refusal's reasons without their messages, which
// lists of submissions (allowedActions, for every row) do not need.
type refusedBy uint8

const (
	notRefused refusedBy = iota
	refusedRole
	refusedState
	refusedContributor
	refusedApproved
)

// check is the first reason r refuses who in state, or notRefused.
func (r Rule) check(state State, who actor) refusedBy {
	switch {
	case !who.can(r.Permission), r.OwnOrganization && who.organizationID == "":
		return refusedRole
	case !slices.Contains(r.From, state):
		return refusedState
	case r.NotContributor && who.contributor:
		return refusedContributor
	case r.Counted && who.approved:
		return refusedApproved
	}
	return notRefused
}

// factsMatter reports whether any rule who may take on a submission in state depends on
// who contributed to it or approved its revision: when none does, lists need not read
// them.
func factsMatter(state State, who actor) bool {
	for _, r := range table {
		if (r.NotContributor || r.Counted) && who.can(r.Permission) && slices.Contains(r.From, state) {
			return true
		}
	}
	return false
}

// allowedActions lists what who may do now with a submission in state owned by org.
func allowedActions(state State, org string, who actor) []Action {
	out := []Action{}
	for _, r := range table {
		if r.check(state, forRule(r, org, who)) == notRefused {
			out = append(out, r.Action)
		}
	}
	return out
}

// forRule narrows who for r: a rule for the own organization sees a member of another
// one as having no organization.
func forRule(r Rule, org string, who actor) actor {
	if r.OwnOrganization && who.organizationID != org {
		who.organizationID = ""
	}
	return who
}

// Capabilities say what the caller may do to a submission now, besides actions: the
// web UI shows or hides its controls by them.
type Capabilities struct {
	Edit    bool `json:"edit"`
	Upload  bool `json:"upload"`
	Delete  bool `json:"delete"`
	Comment bool `json:"comment"`
}

// capabilities combines the state table with who: editing, uploading and deleting are
// for editors of the submission's organization, commenting for those who may comment.
func capabilities(state State, org string, who actor) Capabilities {
	r := stateRule(state)
	own := who.can(auth.PermSubmissionWriteOwn) && who.organizationID != "" && who.organizationID == org
	return Capabilities{Edit: r.Edit && own, Upload: r.Upload && own, Delete: r.Delete && own,
		Comment: r.Comment && who.can(auth.PermCommentCreate)}
}

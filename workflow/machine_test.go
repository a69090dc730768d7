package workflow

import (
	"slices"
	"testing"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
)

// who builds an actor holding perms, in organization org.
func who(org string, perms ...auth.Permission) actor {
	return actor{organizationID: org, can: func(p auth.Permission) bool { return slices.Contains(perms, p) }}
}

var (
	editor    = []auth.Permission{auth.PermSubmissionWriteOwn, auth.PermCommentCreate}
	reviewer  = []auth.Permission{auth.PermSubmissionReview, auth.PermCommentCreate}
	signatory = []auth.Permission{auth.PermSubmissionSign, auth.PermCommentCreate}
	admin     = []auth.Permission{auth.PermSubmissionResend, auth.PermCommentCreate}
)

// TestTableDecisions checks the tables' decisions without a database: who may take
// which action in which state, and the code of every refusal.
func TestTableDecisions(t *testing.T) {
	const org = "org-1"
	cases := []struct {
		name   string
		state  State
		action Action
		who    actor
		code   string // "" when allowed
	}{
		{"editor submits a draft", Draft, ActionSubmit, who(org, editor...), ""},
		{"editor of another organization", Draft, ActionSubmit, who("org-2", editor...), apperr.CodeForbidden},
		{"editor submits twice", Submitted, ActionSubmit, who(org, editor...), apperr.CodeInvalidTransition},
		{"reviewer cannot submit", Draft, ActionSubmit, who(org, reviewer...), apperr.CodeForbidden},
		{"reviewer approves", InReview, ActionApprove, who("", reviewer...), ""},
		{"author cannot approve", InReview, ActionApprove, actor{can: who("", reviewer...).can, contributor: true}, apperr.CodeAuthorCannotApprove},
		{"approved already", InReview, ActionApprove, actor{can: who("", reviewer...).can, approved: true}, apperr.CodeAlreadyApproved},
		{"approve a draft", Draft, ActionApprove, who("", reviewer...), apperr.CodeInvalidTransition},
		{"signatory signs", Approved, ActionSign, who("", signatory...), ""},
		{"author cannot sign", Approved, ActionSign, actor{can: who("", signatory...).can, contributor: true}, apperr.CodeAuthorCannotSign},
		{"reviewer cannot sign", Approved, ActionSign, who("", reviewer...), apperr.CodeForbidden},
		{"admin resends", DispatchFailed, ActionResend, who("", admin...), ""},
		{"resend a dispatched one", Dispatched, ActionResend, who("", admin...), apperr.CodeInvalidTransition},
		{"withdraw in review", InReview, ActionWithdraw, who(org, editor...), ""},
		{"withdraw a rejected one", Rejected, ActionWithdraw, who(org, editor...), apperr.CodeInvalidTransition},
	}
	for _, c := range cases {
		r, _ := ruleFor(c.action)
		err := r.refusal(c.state, forRule(r, org, c.who), nil)
		got := ""
		if err != nil {
			got = err.Code
		}
		if got != c.code {
			t.Errorf("%s: refusal %q, want %q", c.name, got, c.code)
		}
		if allowed := slices.Contains(allowedActions(c.state, org, c.who), c.action); allowed != (c.code == "") {
			t.Errorf("%s: allowed_actions says %v", c.name, allowed)
		}
	}
}

// TestCountedTarget: approve leads to in_review until enough reviewers approved, then
// to approved with a signatory step or to dispatching without.
func TestCountedTarget(t *testing.T) {
	r, _ := ruleFor(ActionApprove)
	st := func(n int, sign bool) *Settings {
		return &Settings{Workflow: WorkflowSettings{RequiredApprovals: n, RequireSignatory: sign}}
	}
	for _, c := range []struct {
		approvals, required int
		signatory           bool
		want                State
	}{
		{1, 2, false, InReview}, {2, 2, false, Dispatching}, {2, 2, true, Approved}, {1, 1, true, Approved}, {3, 2, false, Dispatching},
	} {
		if got := r.target(c.approvals, st(c.required, c.signatory)); got != c.want {
			t.Errorf("%d of %d approvals, signatory %v: %s, want %s", c.approvals, c.required, c.signatory, got, c.want)
		}
	}
	if got := (Rule{To: Rejected}).target(0, st(3, true)); got != Rejected {
		t.Errorf("an uncounted rule leads to %s", got)
	}
}

// TestCapabilities: editing, uploading and deleting are for editors of the
// submission's organization in the states that allow them; commenting for those who
// may comment.
func TestCapabilities(t *testing.T) {
	const org = "org-1"
	for _, c := range []struct {
		state State
		who   actor
		want  Capabilities
	}{
		{Draft, who(org, editor...), Capabilities{Edit: true, Upload: true, Delete: true, Comment: true}},
		{ChangesRequested, who(org, editor...), Capabilities{Edit: true, Upload: true, Comment: true}},
		{Submitted, who(org, editor...), Capabilities{Comment: true}},
		{Draft, who("org-2", editor...), Capabilities{Comment: true}},
		{Draft, who(org, reviewer...), Capabilities{Comment: true}},
		{Dispatched, who(org), Capabilities{}},
	} {
		if got := capabilities(c.state, org, c.who); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.state, got, c.want)
		}
	}
}

// TestTablesAreComplete: every state has a row, every action's states exist, and
// every state is reachable.
func TestTablesAreComplete(t *testing.T) {
	known := map[State]bool{}
	for _, r := range states {
		if known[r.State] {
			t.Errorf("state %s twice", r.State)
		}
		known[r.State] = true
		if (r.Notify != Audience{}) != (r.Notice != "") {
			t.Errorf("state %s: an audience needs a notice and a notice an audience", r.State)
		}
	}
	reached := map[State]bool{Draft: true, Dispatched: true, DispatchFailed: true} // the worker's
	for _, r := range table {
		for _, st := range append(slices.Clone(r.From), r.To, r.Pending, r.WithSignatory) {
			if st != "" && !known[st] {
				t.Errorf("%s names unknown state %s", r.Action, st)
			}
		}
		reached[r.To] = true
		reached[r.Pending] = r.Pending != "" || reached[r.Pending]
		reached[r.WithSignatory] = r.WithSignatory != "" || reached[r.WithSignatory]
	}
	for _, st := range States() {
		if !reached[st] {
			t.Errorf("state %s cannot be reached", st)
		}
	}
}

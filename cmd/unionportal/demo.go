package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/workflow"
)

// demoBody is the body of IndustriALL's update of 30 August 2023 on CFA Case No. 3386
// (Kyrgyzstan): the letter of shared/samples without the parts the portal renders itself
// (place and date, addressee, salutation, closing and signature).
//
//go:embed demo/case-3386-update.md
var demoBody string

// demoLogin is one seeded user.
type demoLogin struct {
	Role, Email, Organization string
	password                  string
}

// seedDemo fills an empty database with the demo tenant and prints the logins. A
// database that holds any tenant or user is left alone.
func seedDemo(ctx context.Context, a *app, out io.Writer) error {
	empty, err := auth.Empty(ctx, a.db)
	if err != nil {
		return err
	}
	logins := filepath.Join(a.cfg.DataDir, "demo-logins.txt")
	if !empty {
		fmt.Fprintf(out, "--demo: the database is not empty, so no demo data was added (the demo logins, if any, are in %s)\n", logins)
		return nil
	}
	wf := a.wf
	// The seeding acts as the platform, not as a user: its events have no actor.
	platform := &auth.Principal{User: auth.User{IsSuperadmin: true, Active: true}, IP: "demo"}
	if _, err := a.auth.CreateTenant(ctx, platform, "industriall", "IndustriALL Global Union"); err != nil {
		return err
	}
	admin, err := a.auth.ResolveTenant(ctx, platform, "industriall")
	if err != nil {
		return err
	}
	secretariat, err := a.auth.CreateOrganization(ctx, admin, auth.OrganizationInput{Name: "IndustriALL Global Union secretariat", Country: "CH", Kind: auth.KindSecretariat})
	if err != nil {
		return err
	}
	affiliate, err := a.auth.CreateOrganization(ctx, admin, auth.OrganizationInput{Name: "Mining and Metallurgical Trade Union of Kyrgyzstan", Country: "KG", Kind: auth.KindAffiliate})
	if err != nil {
		return err
	}
	people := []demoLogin{
		{Role: auth.RoleTenantAdmin, Email: "admin@industriall.example", Organization: secretariat.ID},
		{Role: auth.RoleReviewer, Email: "reviewer@industriall.example", Organization: secretariat.ID},
		{Role: auth.RoleSignatory, Email: "signatory@industriall.example", Organization: secretariat.ID},
		{Role: auth.RoleEditor, Email: "editor@mmtuk.example", Organization: affiliate.ID},
		{Role: auth.RoleViewer, Email: "viewer@mmtuk.example", Organization: affiliate.ID},
	}
	members := map[string]*auth.Member{}
	for i := range people {
		p := &people[i]
		p.password = demoPassword()
		name := strings.ToUpper(p.Role[:1]) + strings.ReplaceAll(p.Role[1:], "_", " ") + " (demo)"
		m, err := a.auth.CreateUser(ctx, admin, auth.UserInput{Email: p.Email, Name: name, Password: p.password,
			OrganizationID: p.Organization, Roles: []string{p.Role}})
		if err != nil {
			return err
		}
		members[p.Role] = m
	}
	reviewer := members[auth.RoleReviewer]
	asReviewer, err := a.auth.ResolveTenant(ctx, &auth.Principal{User: auth.User{ID: reviewer.ID, Email: reviewer.Email, Active: true}, IP: "demo"}, "industriall")
	if err != nil {
		return err
	}
	str := func(s string) *string { return &s }
	complainants := []string{"Mining and Metallurgical Trade Union of Kyrgyzstan", "IndustriALL Global Union"}
	c, err := wf.CreateCase(ctx, asReviewer, workflow.CaseInput{Number: str("3386"), Country: str("KG"),
		Title: str("Kyrgyzstan"), Complainants: &complainants, Status: str("open"),
		NormlexURL: str("https://normlex.ilo.org/dyn/normlex/en/f?p=1000:50001:::NO:50001:P50001_COMPLAINT_FILE_ID:4051353")})
	if err != nil {
		return err
	}
	st := workflow.DefaultSettings()
	st.Dispatch.SandboxRecipient = "sandbox@industriall.example"
	st.Dispatch.From = workflow.Mailbox{Name: "IndustriALL Global Union", Address: "cfa@industriall.example"}
	st.Dispatch.ReplyTo = "legal@industriall.example"
	// Example addresses: the demo must never write to the real ILO, even with sandbox off.
	st.Dispatch.Recipients = []workflow.Recipient{
		{Name: "Karen Curtis", Title: "Chief, Freedom of Association Branch", Address: "curtis@ilo.example", Kind: "to"},
		{Name: "Freedom of Association Branch", Address: "libsynd@ilo.example", Kind: "cc"},
	}
	st.Dispatch.Letterhead = workflow.Letterhead{Organization: "IndustriALL Global Union",
		AddressLines: []string{"54 bis, route des Acacias", "CP 1516", "1227 Geneva", "Switzerland"}, Place: "Geneva"}
	st.Dispatch.Signatory = workflow.Person{Name: "Atle Hoie", Title: "General Secretary"}
	// The platform has verified the demo federation's mail domain.
	if _, err := wf.AddSenderDomain(ctx, admin, "industriall.example"); err != nil {
		return err
	}
	if _, err := wf.PutSettings(ctx, admin, st); err != nil {
		return err
	}
	// Whoever tries the demo signs in with the printed logins at once: its tenant does
	// not require second factors (ADR 0032, 0034), though anyone may add one, and its
	// admin may require them (Administration, "Sign-in security policy"). A real tenant
	// requires them by default from its admins, reviewers and signatories.
	if _, err := a.auth.SetSecurityPolicy(ctx, admin, auth.SecurityPolicy{SecondFactorRequiredFor: auth.PolicyNone}); err != nil {
		return err
	}
	editor := members[auth.RoleEditor]
	asEditor, err := a.auth.ResolveTenant(ctx, &auth.Principal{User: auth.User{ID: editor.ID, Email: editor.Email, Active: true}, IP: "demo"}, "industriall")
	if err != nil {
		return err
	}
	if _, err := wf.CreateSubmission(ctx, asEditor, workflow.SubmissionInput{CaseID: &c.ID, Kind: str(workflow.KindAdditionalInformation),
		Title: str("Update on Case 3386 on Kyrgyzstan"), Body: &demoBody, Language: str("en")}); err != nil {
		return err
	}
	if err := seedDemoCorrespondence(ctx, wf, admin.Tenant.ID, c.ID); err != nil {
		return err
	}

	var b strings.Builder
	fmt.Fprintf(&b, "Demo tenant \"industriall\" (IndustriALL Global Union), Case 3386 (Kyrgyzstan), a draft update and two messages from the ILO.\n")
	fmt.Fprintf(&b, "Log in at %s with (second factors are not required in the demo tenant; its admin can require them under Administration, Sign-in security policy):\n", a.cfg.BaseURL)
	for _, p := range people {
		fmt.Fprintf(&b, "  %-13s %-31s %s\n", p.Role, p.Email, p.password)
	}
	if err := os.WriteFile(logins, []byte(b.String()), 0o600); err != nil {
		return err
	}
	fmt.Fprint(out, b.String())
	fmt.Fprintf(out, "(also written to %s)\n", logins)
	return nil
}

// seedDemoCorrespondence imports two messages into Case 3386 as the mailbox poller would
// (ADR 0036), so the case's correspondence has something to show: an authenticated
// acknowledgement with an attachment, and a request for further information that claims
// to come from the ILO but is not authenticated (the portal warns about it). Both are
// matched by the case number, so only the secretariat sees them. The demo is seeded once,
// into an empty database; the Message-IDs would keep a second import out anyway.
func seedDemoCorrespondence(ctx context.Context, wf *workflow.Service, tenantID, caseID string) error {
	ackDate := time.Date(2023, 9, 5, 9, 30, 0, 0, time.UTC)
	rfiDate := time.Date(2023, 10, 2, 14, 0, 0, 0, time.UTC)
	messages := []workflow.IncomingMessage{
		{MessageID: "<demo-3386-acknowledgement@ilo.example>", FromAddress: "cfa@ilo.org", FromName: "Freedom of Association Branch (ILO)",
			Subject: "Case No. 3386 (Kyrgyzstan): acknowledgement of receipt", SentAt: &ackDate,
			Body: "Dear Sir or Madam,\n\nWe acknowledge receipt of your communication of 30 August 2023 concerning Case No. 3386 (Kyrgyzstan).\n" +
				"It has been transmitted to the Government.\n\nYours faithfully,\n\nFreedom of Association Branch\nInternational Labour Standards Department\n",
			Auth: workflow.MessageAuth{SPF: "pass", DKIM: "pass", DMARC: "pass", Source: "verified", Authenticated: true},
			Files: []workflow.IncomingFile{{Name: "acknowledgement-3386.txt", ContentType: "text/plain",
				Body: strings.NewReader("Case No. 3386 (Kyrgyzstan)\nCommunication of 30 August 2023: received 5 September 2023.\n")}}},
		{MessageID: "<demo-3386-request@ilo.example>", FromAddress: "cfa@ilo.org", FromName: "Freedom of Association Branch (ILO)",
			Subject: "Case No. 3386 (Kyrgyzstan): request for further information", SentAt: &rfiDate,
			Body: "Dear Sir or Madam,\n\nIn connection with Case No. 3386 (Kyrgyzstan), the Committee would be grateful for further information\n" +
				"on the registration of the Mining and Metallurgical Trade Union of Kyrgyzstan since the adoption of the new Law on Trade Unions.\n\n" +
				"Yours faithfully,\n\nFreedom of Association Branch\n",
			// Claims to come from the ILO, but its domain does not vouch for it.
			Auth: workflow.MessageAuth{SPF: "fail", DKIM: "none", DMARC: "fail", Source: "verified", Warning: true}},
	}
	for _, m := range messages {
		m.TenantID, m.CaseID, m.MatchedBy = tenantID, caseID, "case_number"
		if _, _, err := wf.ImportCorrespondence(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

// demoPassword is random, so a demo left running somewhere has no well-known login.
func demoPassword() string { return "demo-" + rand.Text()[:16] }

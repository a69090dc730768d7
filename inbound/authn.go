package inbound

import (
	"context"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"github.com/unionportal/unionportal/workflow"
)

// Who sent a message (ADR 0036). Read from a mailbox, a message no longer says which
// server handed it over, so SPF cannot be evaluated here. Two sources are possible:
//   - the portal's own checks (AuthSource "verified"): the DKIM signatures, verified
//     against the signers' DNS keys, and DMARC as an aligned DKIM pass (relaxed
//     alignment: the signer's organizational domain is the From domain's);
//   - the receiving server's own results (AuthSource "trusted_header"): when the tenant
//     names its authserv-id, the first Authentication-Results header carrying that id
//     (the one that server adds on top, removing any forged one with its id, as RFC 7601
//     section 5 asks) gives SPF, DKIM and DMARC.
// A message whose From domain is the ILO's, or one of the tenant's ILO recipients'
// domains, and that is not authenticated, is flagged: it may be forged.

// Source values of MessageAuth.Source.
const (
	SourceVerified      = "verified"
	SourceTrustedHeader = "trusted_header"
)

// ILODomain is the Office's mail domain: a message claiming it must be authenticated.
const ILODomain = "ilo.org"

// Verifier checks messages' authentication.
type Verifier struct {
	// LookupTXT answers DNS TXT queries (nil: the system's resolver).
	LookupTXT func(domain string) ([]string, error)
	// QueryTimeout bounds one DNS query (default 5 s) and Budget all of one message's
	// (default 10 s): a signer whose DNS never answers (the signer's domain is the
	// sender's choice) costs each message that much at most, not a poll's whole time.
	QueryTimeout, Budget time.Duration
}

// lookup answers TXT queries within ctx and the query timeout; a query that does not
// answer in time is a temporary DNS error (a DKIM or DMARC temperror).
func (v *Verifier) lookup(ctx context.Context) func(string) ([]string, error) {
	var base func(string) ([]string, error)
	timeout := 5 * time.Second
	if v != nil {
		base = v.LookupTXT
		if v.QueryTimeout > 0 {
			timeout = v.QueryTimeout
		}
	}
	return func(domain string) ([]string, error) {
		qctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if base == nil {
			return net.DefaultResolver.LookupTXT(qctx, domain)
		}
		type answer struct {
			txt []string
			err error
		}
		ch := make(chan answer, 1)
		go func() {
			txt, err := base(domain)
			ch <- answer{txt, err}
		}()
		select {
		case a := <-ch:
			return a.txt, a.err
		case <-qctx.Done():
			return nil, &net.DNSError{Err: "no answer in time", Name: domain, IsTimeout: true, IsTemporary: true}
		}
	}
}

// singleFields are the header fields RFC 5322 allows once. A second one is how a
// signed message is replayed with another Subject or sender: the signature covers the
// last instance, readers show the first. Such a message is never authenticated.
var singleFields = []string{"From", "Sender", "Reply-To", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References"}

// Authenticate evaluates a message: raw is the whole message (for the DKIM signatures),
// h its header, trustedID the authserv-id whose Authentication-Results the tenant
// trusts ("" for none), iloDomains the domains that claim to be the ILO. Its DNS
// queries end with ctx, and within the verifier's budget.
func (v *Verifier) Authenticate(ctx context.Context, raw io.Reader, h mail.Header, trustedID string, iloDomains []string) workflow.MessageAuth {
	fromDomain := ""
	if from, err := h.AddressList("From"); err == nil && len(from) == 1 {
		if at := strings.LastIndexByte(from[0].Address, '@'); at > 0 {
			fromDomain = strings.ToLower(from[0].Address[at+1:])
		}
	}
	single := true
	for _, k := range singleFields {
		if len(h.Values(k)) > 1 {
			single = false
		}
	}
	var a workflow.MessageAuth
	if trustedID != "" {
		if r, ok := trustedResults(h, trustedID); ok {
			a = r
		}
	}
	if a.Source == "" {
		budget := 10 * time.Second
		if v != nil && v.Budget > 0 {
			budget = v.Budget
		}
		ctx, cancel := context.WithTimeout(ctx, budget)
		defer cancel()
		a = v.verify(ctx, raw, fromDomain, h.Get("Subject") != "")
	}
	a.Authenticated = a.DMARC == "pass" && fromDomain != "" && single
	a.Warning = !a.Authenticated && claimsILO(fromDomain, iloDomains)
	return a
}

// trustedResults reads the topmost Authentication-Results header, when it carries the
// trusted id. Every header added in transit sits above those the sender wrote, so
// when any server on the way added results, a forged header (with the trusted id or
// not) is never the topmost; taking the first one with the id would believe a forged
// one below another server's.
func trustedResults(h mail.Header, trustedID string) (workflow.MessageAuth, bool) {
	vs := h.Values("Authentication-Results")
	if len(vs) == 0 {
		return workflow.MessageAuth{}, false
	}
	id, results, err := authres.Parse(vs[0])
	if err != nil || !strings.EqualFold(id, trustedID) {
		return workflow.MessageAuth{}, false
	}
	a := workflow.MessageAuth{Source: SourceTrustedHeader, SPF: "none", DKIM: "none", DMARC: "none"}
	for _, r := range results {
		switch r := r.(type) {
		case *authres.SPFResult:
			a.SPF = string(r.Value)
		case *authres.DKIMResult:
			if a.DKIM != "pass" { // any passing signature counts
				a.DKIM = string(r.Value)
			}
		case *authres.DMARCResult:
			a.DMARC = string(r.Value)
		}
	}
	return a, true
}

// verify checks the DKIM signatures (at most 5; signatures with l=, which leave part
// of the body unsigned, fail in go-msgauth) and derives DMARC from an aligned pass:
// relaxed alignment (the same organizational domain), or the very domain when the
// From domain's DMARC record asks for strict alignment (adkim=s). A signature vouches
// for a message's subject only if it signs it: one that does not is not aligned.
func (v *Verifier) verify(ctx context.Context, raw io.Reader, fromDomain string, hasSubject bool) workflow.MessageAuth {
	a := workflow.MessageAuth{Source: SourceVerified, SPF: "none", DKIM: "none", DMARC: "none"}
	lookup := v.lookup(ctx)
	vs, err := dkim.VerifyWithOptions(raw, &dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: 5})
	if err != nil && len(vs) == 0 {
		a.DKIM = "permerror"
	}
	var rec *dmarc.Record
	var recErr error = dmarc.ErrNoPolicy
	if fromDomain != "" {
		rec, recErr = dmarc.LookupWithOptions(fromDomain, &dmarc.LookupOptions{LookupTXT: lookup})
	}
	strict := recErr == nil && rec.DKIMAlignment == dmarc.AlignmentStrict
	aligned := false
	for _, s := range vs {
		switch {
		case s.Err == nil:
			a.DKIM = "pass"
			d := strings.TrimSuffix(strings.ToLower(s.Domain), ".")
			match := d == fromDomain || (!strict && orgDomain(d) == orgDomain(fromDomain))
			signsSubject := !hasSubject || slices.ContainsFunc(s.HeaderKeys, func(k string) bool { return strings.EqualFold(k, "Subject") })
			if fromDomain != "" && match && signsSubject {
				aligned = true
			}
		case a.DKIM != "pass":
			if dkim.IsTempFail(s.Err) {
				a.DKIM = "temperror"
			} else {
				a.DKIM = "fail"
			}
		}
	}
	switch {
	case aligned:
		a.DMARC = "pass"
	case fromDomain == "":
		a.DMARC = "permerror"
	case recErr == nil:
		// Not aligned: a fail when the domain publishes a DMARC policy, none otherwise.
		a.DMARC = "fail"
	case dmarc.IsTempFail(recErr):
		a.DMARC = "temperror"
	}
	return a
}

// orgDomain is a domain's organizational domain (its registrable part).
func orgDomain(d string) string {
	d = strings.TrimSuffix(strings.ToLower(d), ".")
	if o, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return o
	}
	return d
}

// claimsILO says whether a From domain is the ILO's or one of the given domains (or a
// subdomain of one).
func claimsILO(domain string, iloDomains []string) bool {
	if domain == "" {
		return false
	}
	for _, d := range append([]string{ILODomain}, iloDomains...) {
		d = strings.ToLower(d)
		if d != "" && (domain == d || strings.HasSuffix(domain, "."+d)) {
			return true
		}
	}
	return false
}

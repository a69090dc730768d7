package inbound

import (
	"context"
	"io"
	"net"
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
	// LookupTXT answers DNS TXT queries (nil: the system's resolver, 5 s per query).
	LookupTXT func(domain string) ([]string, error)
}

func (v *Verifier) lookup() func(string) ([]string, error) {
	if v != nil && v.LookupTXT != nil {
		return v.LookupTXT
	}
	return func(domain string) ([]string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return net.DefaultResolver.LookupTXT(ctx, domain)
	}
}

// Authenticate evaluates a message: raw is the whole message (for the DKIM signatures),
// h its header, trustedID the authserv-id whose Authentication-Results the tenant
// trusts ("" for none), iloDomains the domains that claim to be the ILO.
func (v *Verifier) Authenticate(raw io.Reader, h mail.Header, trustedID string, iloDomains []string) workflow.MessageAuth {
	fromDomain := ""
	if from, err := h.AddressList("From"); err == nil && len(from) == 1 {
		if at := strings.LastIndexByte(from[0].Address, '@'); at > 0 {
			fromDomain = strings.ToLower(from[0].Address[at+1:])
		}
	}
	var a workflow.MessageAuth
	if trustedID != "" {
		if r, ok := trustedResults(h, trustedID); ok {
			a = r
		}
	}
	if a.Source == "" {
		a = v.verify(raw, fromDomain)
	}
	a.Authenticated = a.DMARC == "pass" && fromDomain != ""
	a.Warning = !a.Authenticated && claimsILO(fromDomain, iloDomains)
	return a
}

// trustedResults reads the first Authentication-Results header with the trusted id.
func trustedResults(h mail.Header, trustedID string) (workflow.MessageAuth, bool) {
	for _, v := range h.Values("Authentication-Results") {
		id, results, err := authres.Parse(v)
		if err != nil || !strings.EqualFold(id, trustedID) {
			continue
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
	return workflow.MessageAuth{}, false
}

// verify checks the DKIM signatures (at most 5) and derives DMARC from an aligned pass.
func (v *Verifier) verify(raw io.Reader, fromDomain string) workflow.MessageAuth {
	a := workflow.MessageAuth{Source: SourceVerified, SPF: "none", DKIM: "none", DMARC: "none"}
	lookup := v.lookup()
	vs, err := dkim.VerifyWithOptions(raw, &dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: 5})
	if err != nil && len(vs) == 0 {
		a.DKIM = "permerror"
	}
	aligned := false
	for _, s := range vs {
		switch {
		case s.Err == nil:
			a.DKIM = "pass"
			if fromDomain != "" && orgDomain(s.Domain) == orgDomain(fromDomain) {
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
	default:
		// Not aligned: a fail when the domain publishes a DMARC policy, none otherwise.
		if _, err := dmarc.LookupWithOptions(fromDomain, &dmarc.LookupOptions{LookupTXT: lookup}); err == nil {
			a.DMARC = "fail"
		} else if dmarc.IsTempFail(err) {
			a.DMARC = "temperror"
		}
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

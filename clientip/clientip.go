// Package clientip decides how much of a client's address the portal keeps
// (UNIONPORTAL_IP_RETENTION, ADR 0033). Rate limits and connection limits work on the
// whole address in memory; what is written to the database or a log goes through
// Retention.Keep first: by default the network only (/24 for IPv4, /48 for IPv6), or the
// whole address, or nothing.
//
// The request's retention rides in its context, put there by the HTTP server, so that
// the places that write an address (the audit trail, sessions) apply it whoever calls
// them; a context without one gets Truncated.
package clientip

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
)

// Retention is how much of a client's address is stored or logged. The zero value is
// Truncated, so that a component nobody configured keeps the network only.
type Retention uint8

// The retention settings.
const (
	// Truncated keeps the network: the first 24 bits of an IPv4 address, 48 of IPv6.
	Truncated Retention = iota
	// Full keeps the whole address.
	Full
	// None keeps no address at all.
	None
)

// Prefix lengths of Truncated.
const (
	IPv4Bits = 24
	IPv6Bits = 48
)

// Retentions lists the settings by name, in the order the documentation gives them.
func Retentions() []string { return []string{"truncated", "full", "none"} }

// Parse reads a setting: truncated, full or none.
func Parse(s string) (Retention, error) {
	switch s {
	case "truncated":
		return Truncated, nil
	case "full":
		return Full, nil
	case "none":
		return None, nil
	}
	return Truncated, fmt.Errorf("unknown retention %q", s)
}

func (r Retention) String() string {
	switch r {
	case Full:
		return "full"
	case None:
		return "none"
	}
	return "truncated"
}

// marker matches the words that stand for a process rather than an address in the
// audit trail ("cli", "dispatch", "audit", "demo"): they are kept whatever the setting.
var marker = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// Keep returns what may be stored of addr: under Truncated its network in CIDR form
// ("203.0.113.0/24", "2001:db8:1::/48"), under Full the address, under None "". An
// IPv4-mapped IPv6 address counts as IPv4, and a zone is dropped. A network (as Keep
// returns it) is narrowed no further than the setting allows, so Keep may be applied
// twice. A process marker is returned as it is; anything else is not an address and is
// dropped.
func (r Retention) Keep(addr string) string {
	if a, err := netip.ParseAddr(addr); err == nil {
		a = a.Unmap().WithZone("")
		switch r {
		case Full:
			return a.String()
		case None:
			return ""
		}
		return truncate(netip.PrefixFrom(a, a.BitLen()))
	}
	if p, err := netip.ParsePrefix(addr); err == nil {
		switch r {
		case Full:
			return p.Masked().String()
		case None:
			return ""
		}
		return truncate(p)
	}
	if marker.MatchString(addr) {
		return addr
	}
	return ""
}

// truncate narrows p to at most the Truncated prefix length of its family.
func truncate(p netip.Prefix) string {
	bits := IPv6Bits
	if p.Addr().Is4() {
		bits = IPv4Bits
	}
	p, _ = p.Addr().Prefix(min(bits, p.Bits()))
	return p.String()
}

type retentionKey struct{}

// With returns ctx carrying r, for the writers down the call chain.
func With(ctx context.Context, r Retention) context.Context {
	return context.WithValue(ctx, retentionKey{}, r)
}

// From is the retention ctx carries, or Truncated.
func From(ctx context.Context) Retention {
	r, _ := ctx.Value(retentionKey{}).(Retention)
	return r
}

// KeepIn is From(ctx).Keep(addr).
func KeepIn(ctx context.Context, addr string) string { return From(ctx).Keep(addr) }

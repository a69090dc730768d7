package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/unionportal/unionportal/apperr"
)

// maxURLLength bounds an endpoint's URL.
const maxURLLength = 2000

// internalPrefixes are address ranges besides those netip classifies (loopback,
// private, link-local, multicast, unspecified) that no webhook may reach: "this
// network", carrier-grade NAT, IETF protocol assignments, benchmarking, reserved and
// broadcast, IPv4-compatible IPv6, and the IPv6 ranges that embed an IPv4 address a
// gateway would reach for us (NAT64, 6to4, Teredo).
var internalPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("100::/64"),
}

// Internal reports whether ip is an address a webhook must not reach unless the
// operator allows private addresses: loopback, private, link-local, unspecified,
// multicast and the other internal ranges, in IPv4 and IPv6, IPv4-mapped IPv6
// addresses included.
func Internal(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.Zone() != "" {
		return true
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range internalPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// errRefused is a delivery the address policy refuses (not https, or an internal
// address as dialled): retrying would not change it.
var errRefused = errors.New("refused")

// errInternalAddress is the refusal of a connection to an internal address.
var errInternalAddress = fmt.Errorf("%w: the address is loopback, private, link-local or otherwise internal", errRefused)

// checkURL validates an endpoint URL at registration: absolute, https (http too when
// private addresses are allowed), no credentials, and, unless private addresses are
// allowed, a host whose every address is public. The address is checked again, as
// dialled, at every delivery.
func (s *Service) checkURL(ctx context.Context, raw string) *apperr.FieldError {
	bad := func(msg string) *apperr.FieldError { return &apperr.FieldError{Field: "url", Message: msg} }
	if raw == "" || len(raw) > maxURLLength || !utf8.ValidString(raw) {
		return bad("required: an absolute https URL of at most 2000 bytes")
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Hostname() == "" || u.Opaque != "" {
		return bad("expected an absolute https URL such as https://example.org/hooks/unionportal")
	}
	allow := s.allowPrivate.Load()
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allow:
	default:
		return bad("only https URLs are accepted")
	}
	if u.User != nil {
		return bad("no user name or password in the URL: deliveries are authenticated by their signature")
	}
	if allow {
		return nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if Internal(ip) {
			return bad("refused: " + ip.String() + " is a loopback, private, link-local or otherwise internal address")
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := s.opts.Resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return bad("the host name " + host + " could not be resolved")
	}
	for _, ip := range addrs {
		if Internal(ip) {
			return bad("refused: " + host + " resolves to " + ip.Unmap().String() + ", a loopback, private, link-local or otherwise internal address")
		}
	}
	return nil
}

// newHTTPClient is the client deliveries go through. Its dialer checks the address
// each connection is actually made to (after resolution, so a name that resolves to a
// public address at registration and to an internal one later is still refused); it
// uses no proxy, keeps no connection for a later delivery, follows no redirect, and
// gives up after timeout.
func (s *Service) newHTTPClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, Control: func(network, address string, _ syscall.RawConn) error {
		if s.allowPrivate.Load() {
			return nil
		}
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return fmt.Errorf("%w: %s", errInternalAddress, address)
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || Internal(ip) {
			return fmt.Errorf("%w: %s", errInternalAddress, host)
		}
		return nil
	}}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		// Every delivery dials, so every delivery's address is checked.
		DisableKeepAlives: true,
	}
	return &http.Client{Transport: transport, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

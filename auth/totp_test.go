package auth

import (
	"strings"
	"testing"
	"time"
)

// TestMatchTOTP: a code is matched within one step either way of now (RFC 6238
// vectors' secret), and the step it matched is returned for the replay check.
func TestMatchTOTP(t *testing.T) {
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" // "12345678901234567890"
	now := time.Unix(1111111109, 0)
	if got := TOTPCode(secret, now); got != "081804" { // RFC 6238's vector 07081804, in 6 digits
		t.Fatalf("code: %s", got)
	}
	const step = 1111111109 / 30
	for _, c := range []struct {
		at   time.Time
		ok   bool
		step int64
	}{
		{now, true, step}, {now.Add(30 * time.Second), true, step}, {now.Add(-30 * time.Second), true, step},
		{now.Add(61 * time.Second), false, 0}, {now.Add(-70 * time.Second), false, 0},
	} {
		step, ok := matchTOTP(secret, "081 804", c.at)
		if ok != c.ok || step != c.step {
			t.Errorf("at %v: %d %v, want %d %v", c.at.Unix(), step, ok, c.step, c.ok)
		}
	}
	for _, bad := range []string{"", "28708", "2870822", "abcdef"} {
		if _, ok := matchTOTP(secret, bad, now); ok {
			t.Errorf("%q matched", bad)
		}
	}
}

// TestRecoveryCodes: 80 random bits in four groups; typed in any case, with or without
// dashes and spaces, a code hashes the same, and only under its user.
func TestRecoveryCodes(t *testing.T) {
	c := newRecoveryCode()
	if len(c) != 19 || strings.Count(c, "-") != 3 || c == newRecoveryCode() {
		t.Fatalf("code %q", c)
	}
	var k [32]byte
	h := hashRecoveryCode(k, "u1", c)
	for _, typed := range []string{strings.ToUpper(c), strings.ReplaceAll(c, "-", ""), " " + strings.ReplaceAll(c, "-", " ") + " "} {
		if hashRecoveryCode(k, "u1", typed) != h {
			t.Errorf("%q hashes differently", typed)
		}
	}
	if hashRecoveryCode(k, "u2", c) == h {
		t.Error("the same code hashes the same for another user")
	}
}

package clientip

import (
	"context"
	"testing"
)

func TestKeep(t *testing.T) {
	cases := []struct {
		in                      string
		truncated, full, noneIs string
	}{
		{"203.0.113.77", "203.0.113.0/24", "203.0.113.77", ""},
		{"2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::/48", "2001:db8:abcd:12:1:2:3:4", ""},
		{"2001:DB8:ABCD:0012::1", "2001:db8:abcd::/48", "2001:db8:abcd:12::1", ""},
		{"::ffff:198.51.100.9", "198.51.100.0/24", "198.51.100.9", ""},
		{"fe80::1%eth0", "fe80::/48", "fe80::1", ""},
		{"127.0.0.1", "127.0.0.0/24", "127.0.0.1", ""},
		// What Keep returned, kept again, stays as it is (or narrows to the setting).
		{"203.0.113.0/24", "203.0.113.0/24", "203.0.113.0/24", ""},
		{"203.0.113.77/32", "203.0.113.0/24", "203.0.113.77/32", ""},
		{"10.0.0.0/8", "10.0.0.0/8", "10.0.0.0/8", ""},
		{"2001:db8:abcd::/48", "2001:db8:abcd::/48", "2001:db8:abcd::/48", ""},
		// Process markers are not addresses.
		{"cli", "cli", "cli", "cli"},
		{"dispatch", "dispatch", "dispatch", "dispatch"},
		// Anything else is dropped.
		{"", "", "", ""},
		{"not an address", "", "", ""},
		{"203.0.113.77:5555", "", "", ""},
		{"Mozilla/5.0", "", "", ""},
	}
	for _, c := range cases {
		if got := Truncated.Keep(c.in); got != c.truncated {
			t.Errorf("truncated %q = %q, want %q", c.in, got, c.truncated)
		}
		if got := Full.Keep(c.in); got != c.full {
			t.Errorf("full %q = %q, want %q", c.in, got, c.full)
		}
		if got := None.Keep(c.in); got != c.noneIs {
			t.Errorf("none %q = %q, want %q", c.in, got, c.noneIs)
		}
		for _, r := range []Retention{Truncated, Full, None} {
			once := r.Keep(c.in)
			if twice := r.Keep(once); twice != once {
				t.Errorf("%s: Keep(Keep(%q)) = %q, want %q", r, c.in, twice, once)
			}
		}
	}
}

func TestParse(t *testing.T) {
	for _, name := range Retentions() {
		r, err := Parse(name)
		if err != nil || r.String() != name {
			t.Errorf("Parse(%q) = %v, %v", name, r, err)
		}
	}
	if _, err := Parse("partial"); err == nil {
		t.Error("Parse accepted an unknown setting")
	}
	var zero Retention
	if zero != Truncated {
		t.Error("the zero value must be Truncated")
	}
}

func TestContext(t *testing.T) {
	ctx := context.Background()
	if From(ctx) != Truncated {
		t.Error("a context without a retention must give Truncated")
	}
	if got := KeepIn(With(ctx, None), "203.0.113.7"); got != "" {
		t.Errorf("none kept %q", got)
	}
	if got := KeepIn(With(ctx, Full), "203.0.113.7"); got != "203.0.113.7" {
		t.Errorf("full kept %q", got)
	}
}

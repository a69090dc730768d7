package keys

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
)

// PlatformKeyID names the installation's own key-encryption key among the tenant keys:
// it is not a UUID, so no tenant ever has it.
const PlatformKeyID = "platform"

// PlatformKey returns the installation's key-encryption key, for what belongs to the
// installation rather than to a tenant (a user's TOTP secret: users are not per
// tenant). It is created on first use and stored like a tenant's key, wrapped by the
// master key, so Check opens it at start and RotateMaster re-wraps it; it is never
// exported with a tenant.
func (s *Service) PlatformKey(ctx context.Context) (Key, error) {
	return s.TenantKey(ctx, PlatformKeyID)
}

// Derive returns a key for one purpose derived from k with HKDF-SHA256, so that one key
// serves several uses without one use's output ever being another's.
func Derive(k Key, purpose string) Key {
	raw, err := hkdf.Key(sha256.New, k[:], nil, "unionportal "+purpose, len(Key{}))
	if err != nil {
		panic("keys: " + err.Error()) // only for lengths HKDF cannot give
	}
	var out Key
	copy(out[:], raw)
	return out
}

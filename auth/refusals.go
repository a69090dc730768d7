package auth

import (
	"context"
)

// RecordRefusal appends an "authorization.denied" event for a refused request to the
// tenant's chain (or the platform's, when tenantID is ""): who, from where, which route,
// and the answer given. The caller limits how often one principal can cause it.
func (s *Service) RecordRefusal(ctx context.Context, actor Actor, tenantID, method, route string, details map[string]any) error {
	return s.recordEvent(ctx, tenantID, actor, "authorization.denied", "route", method+" "+route, details)
}

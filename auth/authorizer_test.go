package auth

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
)

// TestDecisionsDoNotWaitForAReload: while a reload is held between loading the new
// policy and swapping it in, decisions complete, on the old policy; after the swap they
// use the new one (whose cache holds nothing of the old).
func TestDecisionsDoNotWaitForAReload(t *testing.T) {
	ctx := context.Background()
	db := dbtest.New(t, database.SQLite)
	a, err := NewAuthorizer(ctx, db, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	const user, tenant = "user-1", "tenant-1"
	if a.Can(user, tenant, PermSubmissionReadAll) {
		t.Fatal("allowed before any role was given")
	}
	before := a.loadedVersion()
	if err := a.setRoles(ctx, user, tenant, []string{RoleReviewer}); err != nil {
		t.Fatal(err)
	}

	loaded, release := make(chan struct{}), make(chan struct{})
	a.afterLoad = func() {
		close(loaded)
		<-release
	}
	reloaded := make(chan error, 1)
	go func() { reloaded <- a.Refresh(ctx) }()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	select {
	case <-loaded:
	case err := <-reloaded:
		t.Fatalf("the reload ended without loading a new policy: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the reload did not load the new policy within 30 s")
	}

	// The reload is held: decisions must complete anyway, on the old policy.
	const deciders = 8
	decided := make(chan bool, deciders)
	var wg sync.WaitGroup
	for range deciders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			decided <- a.Can(user, tenant, PermSubmissionReadAll)
			_ = a.RolesOf(user, tenant)
			_ = a.RolePermissions(RoleReviewer)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("decisions waited for the reload (none completed within 30 s while it was held)")
	}
	close(decided)
	for ok := range decided {
		if ok {
			t.Error("a decision during the reload used the new policy before the swap")
		}
	}
	if v := a.loadedVersion(); v != before {
		t.Errorf("loaded version %d before the swap, want %d", v, before)
	}

	close(release)
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	if a.loadedVersion() <= before {
		t.Errorf("loaded version %d after the reload, want more than %d", a.loadedVersion(), before)
	}
	if !a.Can(user, tenant, PermSubmissionReadAll) {
		t.Error("the new policy's decision is not used after the swap (a stale cached denial?)")
	}
}

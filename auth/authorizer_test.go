package auth

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	gormadapter "github.com/casbin/gorm-adapter/v3"

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

// BenchmarkCanDuringReloads: decisions while the policy (10,000 role assignments) is
// reloaded over and over beside them. max-ns is the slowest decision: it stays far
// below a reload's duration (reload-ns), since no decision waits for one. Run it with
// `go test -run - -bench CanDuringReloads ./auth`.
func BenchmarkCanDuringReloads(b *testing.B) {
	ctx := context.Background()
	db := dbtest.New(b, database.SQLite)
	rules := make([]gormadapter.CasbinRule, 0, 10000)
	for i := range 10000 {
		rules = append(rules, gormadapter.CasbinRule{Ptype: "g", V0: fmt.Sprintf("user-%d", i), V1: RoleReviewer, V2: fmt.Sprintf("tenant-%d", i%50)})
	}
	if err := db.Conn(ctx).CreateInBatches(rules, 500).Error; err != nil {
		b.Fatal(err)
	}
	a, err := NewAuthorizer(ctx, db, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	stop := make(chan struct{})
	reloads := make(chan time.Duration, 1)
	go func() {
		var n int
		var total time.Duration
		for {
			select {
			case <-stop:
				reloads <- total / time.Duration(max(n, 1))
				return
			default:
			}
			start := time.Now()
			if err := a.reload(ctx); err != nil {
				b.Error(err)
			}
			total += time.Since(start)
			n++
		}
	}()
	var slowest time.Duration
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		a.Can(fmt.Sprintf("user-%d", i%10000), fmt.Sprintf("tenant-%d", i%50), PermSubmissionReadAll)
		slowest = max(slowest, time.Since(start))
	}
	b.StopTimer()
	close(stop)
	b.ReportMetric(float64(slowest.Nanoseconds()), "max-ns")
	b.ReportMetric(float64((<-reloads).Nanoseconds()), "reload-ns")
}

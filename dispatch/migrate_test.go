package dispatch_test

import (
	"context"
	"sync"
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
)

// TestMigrateQueueConcurrently: portal processes started together on one new database
// each migrate the queue's tables; every one must succeed, as the schema's own
// migrations do (River's migrator takes no lock of its own).
func TestMigrateQueueConcurrently(t *testing.T) {
	target := dbtest.Target(t, database.Postgres)
	const processes = 4
	dbs := make([]*database.DB, processes)
	for i := range dbs {
		db, err := database.Open(context.Background(), target, database.Options{MaxOpenConns: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	var wg sync.WaitGroup
	errs := make([]error, processes)
	start := make(chan struct{})
	for i, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = dispatch.MigrateQueue(context.Background(), db)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("process %d: %v", i+1, err)
		}
	}
	// The queue works afterwards: its tables exist once.
	var n int
	if err := dbs[0].Conn(context.Background()).Raw("SELECT count(*) FROM river_migration").Scan(&n).Error; err != nil || n == 0 {
		t.Errorf("river_migration rows: %d (%v)", n, err)
	}
}

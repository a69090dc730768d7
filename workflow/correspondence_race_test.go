package workflow_test

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// barrierReader holds its first Read until every importer has started storing its
// files: both imports have then passed the check for the Message-ID.
type barrierReader struct {
	r    io.Reader
	once sync.Once
	wg   *sync.WaitGroup
}

func (b *barrierReader) Read(p []byte) (int, error) {
	b.once.Do(func() { b.wg.Done(); b.wg.Wait() })
	return b.r.Read(p)
}

// TestCorrespondenceImportRace: two pollers import the same Message-ID at once, both
// storing its files; one wins, and the loser leaves nothing in storage.
func TestCorrespondenceImportRace(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *database.DB) {
		f := newRetentionFixture(t, db)
		ctx := context.Background()
		var barrier sync.WaitGroup
		barrier.Add(2)
		results := make([]bool, 2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i], errs[i] = f.s.Workflow.ImportCorrespondence(ctx, workflow.IncomingMessage{TenantID: f.admin.Tenant.ID, CaseID: f.caseID,
					MatchedBy: "case_number", MessageID: "<race@ilo.org>", FromAddress: "cfa@ilo.org", Subject: "Case No. 3386", Body: "Text.",
					Files: []workflow.IncomingFile{
						{Name: "a.pdf", ContentType: "application/pdf", Body: &barrierReader{r: strings.NewReader("%PDF a"), wg: &barrier}},
						{Name: "b.pdf", ContentType: "application/pdf", Body: strings.NewReader("%PDF b")}}})
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil || results[0] == results[1] {
			t.Fatalf("imports: %v %v", results, errs)
		}
		var objects []string
		if err := f.store.List(ctx, storage.TenantsPrefix+f.admin.Tenant.ID+"/correspondence/", func(i storage.Info) error {
			objects = append(objects, i.Key)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		var rows int64
		db.Conn(ctx).Model(&workflow.CorrespondenceFile{}).Count(&rows)
		if len(objects) != 2 || rows != 2 {
			t.Errorf("stored %d objects for %d files: %q", len(objects), rows, objects)
		}
	})
}

package storage_test

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/unionportal/unionportal/internal/testrig"
	"github.com/unionportal/unionportal/storage"
)

// TestNewS3Concurrently: several portal processes starting at once on a new installation
// (deploy/compose.yaml starts two serve and a worker) all find the bucket missing and
// create it; every one of them must start.
func TestNewS3Concurrently(t *testing.T) {
	endpoint := testrig.SkipOrFail(t, testrig.EnvS3Endpoint, "MinIO")
	for round := 0; round < 5; round++ {
		cfg := storage.S3Config{Endpoint: endpoint, Bucket: "start-" + strings.ToLower(rand.Text()[:12]),
			AccessKey: os.Getenv(testrig.EnvS3AccessKey), SecretKey: os.Getenv(testrig.EnvS3SecretKey)}
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = storage.NewS3(context.Background(), cfg)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, process %d: %v", round, i, err)
			}
		}
	}
}

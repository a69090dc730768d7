package api

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unionportal/unionportal/storage"
)

// TestReadinessChecksStorage: a local store whose directory went away, or whose volume
// is full, makes /readyz answer 503 with the reason, in words that name no path.
func TestReadinessChecksStorage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secret-volume", "files")
	store, err := storage.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := newTestServer(t, Options{Checks: []Check{{Name: "storage", Fn: store.Check}}})
	if rec := do(t, s.Handler(), http.MethodGet, "/readyz", nil); rec.Code != http.StatusOK {
		t.Fatalf("ready: %d %s", rec.Code, rec.Body)
	}
	notReady := func(wantReason string) {
		t.Helper()
		rec := do(t, s.Handler(), http.MethodGet, "/readyz", nil)
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503; body %s", rec.Code, rec.Body)
		}
		p := decodeProblem(t, rec)
		checks, _ := p["checks"].(map[string]any)
		reasons, _ := p["reasons"].(map[string]any)
		if p["code"] != "not_ready" || checks["storage"] != "unavailable" {
			t.Errorf("problem %v", p)
		}
		if r, _ := reasons["storage"].(string); !strings.Contains(r, wantReason) {
			t.Errorf("reason %q, want it to say %q", r, wantReason)
		}
		if strings.Contains(rec.Body.String(), "secret-volume") {
			t.Errorf("readiness shows the path: %s", rec.Body)
		}
	}
	store.MinFreeBytes = 1 << 62
	notReady("full")
	store.MinFreeBytes = 0
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	notReady("missing")
}

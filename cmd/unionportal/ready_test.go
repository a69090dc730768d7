package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/unionportal/unionportal/internal/testrig"
)

// readyz asks the assembled portal whether it is ready.
func readyz(t *testing.T, a *app) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	a.srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("/readyz: %v: %s", err, rec.Body)
	}
	return rec.Code, body
}

func storageReason(body map[string]any) string {
	reasons, _ := body["reasons"].(map[string]any)
	r, _ := reasons["storage"].(string)
	return r
}

// TestReadinessChecksLocalStorage: /readyz checks the files directory, as the README
// says, not only the database.
func TestReadinessChecksLocalStorage(t *testing.T) {
	dataDir := t.TempDir()
	cfg, err := loadConfig([]string{"UNIONPORTAL_DATA_DIR=" + dataDir}, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(context.Background(), cfg, newLogger(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if code, body := readyz(t, a); code != http.StatusOK || body["checks"].(map[string]any)["storage"] != "ok" {
		t.Fatalf("/readyz: %d %v", code, body)
	}
	if err := os.RemoveAll(filepath.Join(dataDir, "files")); err != nil {
		t.Fatal(err)
	}
	if code, body := readyz(t, a); code != http.StatusServiceUnavailable || storageReason(body) != "the storage directory is missing" {
		t.Errorf("/readyz without the files directory: %d %v", code, body)
	}
}

// TestReadinessChecksS3 stops the S3 server under a running portal: /readyz answers 503
// in time, saying why, and recovers when the server is back.
func TestReadinessChecksS3(t *testing.T) {
	bin := testrig.SkipOrFail(t, testrig.EnvMinIOBin, "the MinIO binary")
	minio, err := testrig.StartMinIO(context.Background(), bin, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer minio.Stop()
	cfg, err := loadConfig([]string{"UNIONPORTAL_DATA_DIR=" + t.TempDir(), "UNIONPORTAL_STORAGE=s3",
		"UNIONPORTAL_S3_ENDPOINT=" + minio.Endpoint, "UNIONPORTAL_S3_BUCKET=evidence", "UNIONPORTAL_S3_USE_TLS=false",
		"UNIONPORTAL_S3_ACCESS_KEY=" + minio.AccessKey, "UNIONPORTAL_S3_SECRET_KEY=" + minio.SecretKey}, "")
	if err != nil {
		t.Fatal(err)
	}
	a, err := newApp(context.Background(), cfg, newLogger(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if code, body := readyz(t, a); code != http.StatusOK {
		t.Fatalf("/readyz: %d %v", code, body)
	}
	if err := minio.Stop(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, body := readyz(t, a)
	if code != http.StatusServiceUnavailable || storageReason(body) == "" {
		t.Errorf("/readyz with MinIO stopped: %d %v", code, body)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("/readyz took %s with MinIO stopped, want under 2s", d)
	}
	t.Logf("reason: %s", storageReason(body))
	if err := minio.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := readyz(t, a); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not recover after MinIO came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

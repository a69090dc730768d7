package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestTracingExportsSpansWhenConfigured: with OTEL_EXPORTER_OTLP_ENDPOINT set, serve
// sends its request spans, named by route, to the OTLP/HTTP receiver (flushed at
// SIGTERM); the spans carry neither the path's ids nor the query.
func TestTracingExportsSpansWhenConfigured(t *testing.T) {
	var mu sync.Mutex
	var received bytes.Buffer
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" {
			http.NotFound(w, r)
			return
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		received.Write(b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()

	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "serve")
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "UNIONPORTAL_DATA_DIR="+filepath.Join(t.TempDir(), "data"), "UNIONPORTAL_ADDR="+addr,
		"OTEL_EXPORTER_OTLP_ENDPOINT="+collector.URL, "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf")
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitStatus(t, "http://"+addr+"/api/v1/healthz", 200, 15*time.Second)
	resp, err := http.Get("http://" + addr + "/api/v1/tenants/secret-slug-7731/cases?q=WITNESS-7731")
	if err == nil {
		resp.Body.Close()
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Process.Wait(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"GET /api/v1/healthz", "GET /api/v1/tenants/:tenant/cases", "unionportal"} {
		if !bytes.Contains(received.Bytes(), []byte(want)) {
			t.Errorf("no span %q reached the collector (%d bytes); log:\n%s", want, received.Len(), logs.String())
		}
	}
	if bytes.Contains(received.Bytes(), []byte("7731")) {
		t.Error("a span carries the path's tenant or the query")
	}
}

package storage_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/unionportal/unionportal/internal/testrig"
	"github.com/unionportal/unionportal/storage"
)

// newS3 gives the test a fresh bucket on the rig's MinIO.
func newS3(t *testing.T) storage.Store {
	t.Helper()
	endpoint := testrig.SkipOrFail(t, testrig.EnvS3Endpoint, "MinIO")
	bucket := "test-" + strings.ToLower(rand.Text()[:12])
	s, err := storage.NewS3(context.Background(), storage.S3Config{Endpoint: endpoint, Bucket: bucket,
		AccessKey: os.Getenv(testrig.EnvS3AccessKey), SecretKey: os.Getenv(testrig.EnvS3SecretKey)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newLocal(t *testing.T) storage.Store {
	t.Helper()
	s, err := storage.NewLocal(filepath.Join(t.TempDir(), "files"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConformance runs one suite against every implementation.
func TestConformance(t *testing.T) {
	for name, mk := range map[string]func(*testing.T) storage.Store{"local": newLocal, "s3": newS3} {
		t.Run(name, func(t *testing.T) { conformance(t, mk(t)) })
	}
}

func conformance(t *testing.T, s storage.Store) {
	ctx := context.Background()
	data := bytes.Repeat([]byte("evidence "), 3<<20/9) // ~3 MiB, several reads
	key := "tenants/t1/submissions/s1/a1"

	t.Run("put and read back", func(t *testing.T) {
		if err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), "text/plain"); err != nil {
			t.Fatal(err)
		}
		info, err := s.Stat(ctx, key)
		if err != nil || info.Size != int64(len(data)) {
			t.Fatalf("stat %+v %v", info, err)
		}
		obj, err := s.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		obj.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes (%v), want %d", len(got), err, len(data))
		}
	})
	t.Run("unknown size", func(t *testing.T) {
		big := make([]byte, storage.S3PartSize+1234) // more than one part
		rand.Read(big)
		if err := s.Put(ctx, "tenants/t1/big", io.MultiReader(bytes.NewReader(big)), -1, "application/octet-stream"); err != nil {
			t.Fatal(err)
		}
		obj, err := s.Open(ctx, "tenants/t1/big")
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		got, _ := io.ReadAll(obj)
		if !bytes.Equal(got, big) {
			t.Fatal("multipart object differs")
		}
	})
	t.Run("part boundaries", func(t *testing.T) {
		// Exactly one part, exactly two, and a failing reader mid-way: the reader's error
		// comes back as it is and nothing is stored.
		for _, n := range []int{storage.S3PartSize, 2 * storage.S3PartSize} {
			b := make([]byte, n)
			rand.Read(b)
			k := "tenants/t1/parts"
			if err := s.Put(ctx, k, bytes.NewReader(b), -1, "application/octet-stream"); err != nil {
				t.Fatal(err)
			}
			obj, err := s.Open(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(obj)
			obj.Close()
			if !bytes.Equal(got, b) {
				t.Fatalf("%d bytes: read back %d bytes, differing", n, len(got))
			}
			if err := s.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		broken := errors.New("the client went away")
		r := io.MultiReader(bytes.NewReader(make([]byte, storage.S3PartSize+1)), iotest.ErrReader(broken))
		if err := s.Put(ctx, "tenants/t1/broken", r, -1, "application/octet-stream"); !errors.Is(err, broken) {
			t.Errorf("a reader failing after a part: %v, want its error", err)
		}
		if _, err := s.Stat(ctx, "tenants/t1/broken"); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("an object stored from a failed reader: %v", err)
		}
		if err := s.Put(ctx, "tenants/t1/short", bytes.NewReader(make([]byte, 10)), 11, "application/octet-stream"); err == nil {
			t.Error("10 bytes stored where 11 were announced")
		}
	})
	t.Run("range", func(t *testing.T) {
		obj, err := s.Open(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		defer obj.Close()
		if _, err := obj.Seek(1_000_000, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		if _, err := io.ReadFull(obj, buf); err != nil || !bytes.Equal(buf, data[1_000_000:1_000_100]) {
			t.Fatalf("range read %q %v", buf, err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		if _, err := s.Stat(ctx, "tenants/t1/nothing"); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("stat missing: %v", err)
		}
		if _, err := s.Open(ctx, "tenants/t1/nothing"); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("open missing: %v", err)
		}
		if err := s.Delete(ctx, "tenants/t1/nothing"); err != nil {
			t.Errorf("delete missing: %v", err)
		}
	})
	t.Run("failed put leaves nothing", func(t *testing.T) {
		failing := io.MultiReader(bytes.NewReader(data[:1<<20]), errReader{})
		if err := s.Put(ctx, "tenants/t1/broken", failing, -1, "text/plain"); err == nil {
			t.Fatal("a failing reader was stored")
		}
		if _, err := s.Stat(ctx, "tenants/t1/broken"); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("a failed upload left an object: %v", err)
		}
		var keys []string
		s.List(ctx, "", func(i storage.Info) error { keys = append(keys, i.Key); return nil })
		for _, k := range keys {
			if strings.Contains(k, "broken") || strings.Contains(k, ".upload") {
				t.Errorf("left behind: %s", k)
			}
		}
	})
	t.Run("list by prefix", func(t *testing.T) {
		s.Put(ctx, "tenants/t2/x", strings.NewReader("x"), 1, "text/plain")
		var keys []string
		if err := s.List(ctx, "tenants/t1/", func(i storage.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
			t.Fatal(err)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, []string{"tenants/t1/big", key}) {
			t.Errorf("list %v", keys)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if err := s.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("after delete: %v", err)
		}
	})
	t.Run("keys from ids only", func(t *testing.T) {
		for _, bad := range []string{"../etc/passwd", "a/../../b", "/abs", "a//b", "a/./b", "", "name with spaces", "tenants/t1/é"} {
			if err := s.Put(ctx, bad, strings.NewReader("x"), 1, "text/plain"); err == nil {
				t.Errorf("key %q accepted", bad)
			}
		}
	})
	t.Run("presign", func(t *testing.T) {
		s.Put(ctx, "tenants/t1/p", strings.NewReader("signed"), 6, "text/plain")
		u, err := s.PresignGet(ctx, "tenants/t1/p", time.Minute, "Évidence 1.txt")
		if errors.Is(err, storage.ErrUnsupported) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "signed" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") {
			t.Errorf("presigned GET: %s %q %q", resp.Status, b, resp.Header.Get("Content-Disposition"))
		}
	})
	t.Run("check", func(t *testing.T) {
		if err := s.Check(ctx); err != nil {
			t.Error(err)
		}
	})
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("client went away") }

package api

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/unionportal/unionportal/audit"
	"github.com/unionportal/unionportal/database"
	"github.com/unionportal/unionportal/database/dbtest"
	"github.com/unionportal/unionportal/dispatch"
	"github.com/unionportal/unionportal/internal/testrig"
	"github.com/unionportal/unionportal/keys"
	"github.com/unionportal/unionportal/storage"
	"github.com/unionportal/unionportal/workflow"
)

// TestWholeInstallationBackupAndRestore runs the backup and restore procedures of
// docs/operations.md on an installation with a dispatched Case 3386 update, and checks
// that the restored installation answers every user exactly as the original did and that
// every audit chain verifies:
//   - PostgreSQL + S3: pg_dump --format=custom, then a mirror of the bucket (here with
//     minio-go's server-side copy, standing in for `mc mirror`); restore with pg_restore
//     into an empty database and the mirrored bucket;
//   - the embedded default: the SQLite file copied online with VACUUM INTO (what
//     `sqlite3 unionportal.db "VACUUM INTO '…'"` runs), and the files directory copied.
func TestWholeInstallationBackupAndRestore(t *testing.T) {
	t.Run("postgres-and-s3", func(t *testing.T) {
		bin := testrig.SkipOrFail(t, testrig.EnvPostgresBin, "PostgreSQL binaries")
		endpoint := testrig.SkipOrFail(t, testrig.EnvS3Endpoint, "MinIO")
		admin := testrig.SkipOrFail(t, testrig.EnvPostgresURL, "PostgreSQL")
		ctx := context.Background()
		creds := credentials.NewStaticV4(os.Getenv(testrig.EnvS3AccessKey), os.Getenv(testrig.EnvS3SecretKey), "")
		bucket := func() (string, storage.Store) {
			name := "b-" + strings.ToLower(rand.Text()[:16])
			s, err := storage.NewS3(ctx, storage.S3Config{Endpoint: endpoint, Bucket: name, AccessKey: os.Getenv(testrig.EnvS3AccessKey),
				SecretKey: os.Getenv(testrig.EnvS3SecretKey)})
			if err != nil {
				t.Fatal(err)
			}
			return name, s
		}
		srcTarget := dbtest.Target(t, database.Postgres)
		srcDB, err := database.Open(ctx, srcTarget, database.Options{MaxOpenConns: 5})
		if err != nil {
			t.Fatal(err)
		}
		defer srcDB.Close()
		srcBucket, srcStore := bucket()
		src := newPortalHarnessStore(t, srcDB, dispatch.Options{Sender: dispatch.Outbox{Dir: t.TempDir()}, PollInterval: 50 * time.Millisecond, RetryBase: 200 * time.Millisecond}, testWebhookOptions, true, use(srcStore))
		w := src.world()
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		approveAndWait(t, w, w.submissionA.ID, workflow.Dispatched)

		// Backup: the database first, then the bucket.
		dump := filepath.Join(t.TempDir(), "unionportal.dump")
		run(t, filepath.Join(bin, "pg_dump"), "--format=custom", "--file="+dump, srcTarget.DSN)
		dstBucket, dstStore := bucket()
		mc, err := minio.New(endpoint, &minio.Options{Creds: creds})
		if err != nil {
			t.Fatal(err)
		}
		copied := 0
		for obj := range mc.ListObjects(ctx, srcBucket, minio.ListObjectsOptions{Recursive: true}) {
			if obj.Err != nil {
				t.Fatal(obj.Err)
			}
			if _, err := mc.CopyObject(ctx, minio.CopyDestOptions{Bucket: dstBucket, Object: obj.Key},
				minio.CopySrcOptions{Bucket: srcBucket, Object: obj.Key}); err != nil {
				t.Fatal(err)
			}
			copied++
		}
		if copied < 3 {
			t.Fatalf("the bucket held %d objects", copied)
		}

		// Restore into an empty database.
		name := "restore_" + strings.ToLower(rand.Text()[:12])
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			conn.Close(context.Background())
		})
		u, err := url.Parse(admin)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + name
		run(t, filepath.Join(bin, "pg_restore"), "--no-owner", "--exit-on-error", "--dbname="+u.String(), dump)
		dstTarget, err := database.ParseURL(u.String(), "")
		if err != nil {
			t.Fatal(err)
		}
		dstDB, err := database.Open(ctx, dstTarget, database.Options{MaxOpenConns: 5})
		if err != nil {
			t.Fatal(err)
		}
		defer dstDB.Close()
		if applied, err := dstDB.Migrate(ctx, nil); err != nil || len(applied) != 0 {
			t.Fatalf("the restored database needed migrations %v: %v", applied, err)
		}
		dst := newPortalHarnessStore(t, dstDB, dispatch.Options{}, testWebhookOptions, false, use(dstStore))
		compareInstallations(t, src, dst, dstDB, w)
	})

	t.Run("embedded-default", func(t *testing.T) {
		ctx := context.Background()
		dir := t.TempDir()
		srcDB, err := database.Open(ctx, database.Target{Dialect: database.SQLite, DSN: filepath.Join(dir, "unionportal.db")}, database.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer srcDB.Close()
		if _, err := srcDB.Migrate(ctx, nil); err != nil {
			t.Fatal(err)
		}
		srcStore, err := storage.NewLocal(filepath.Join(dir, "files"))
		if err != nil {
			t.Fatal(err)
		}
		src := newPortalHarnessStore(t, srcDB, dispatch.Options{Sender: dispatch.Outbox{Dir: t.TempDir()}, PollInterval: 50 * time.Millisecond, RetryBase: 200 * time.Millisecond}, testWebhookOptions, true, use(srcStore))
		w := src.world()
		w.adminA.must(200, "PUT", "/api/v1/tenants/alpha/settings", dispatchReady(1, false))
		approveAndWait(t, w, w.submissionA.ID, workflow.Dispatched)

		// Backup while the portal runs: VACUUM INTO, then the files.
		backup := t.TempDir()
		if err := srcDB.Conn(ctx).Exec("VACUUM INTO ?", filepath.Join(backup, "unionportal.db")).Error; err != nil {
			t.Fatal(err)
		}
		run(t, "cp", "-a", filepath.Join(dir, "files"), filepath.Join(backup, "files"))

		dstDB, err := database.Open(ctx, database.Target{Dialect: database.SQLite, DSN: filepath.Join(backup, "unionportal.db")}, database.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer dstDB.Close()
		dstStore, err := storage.NewLocal(filepath.Join(backup, "files"))
		if err != nil {
			t.Fatal(err)
		}
		dst := newPortalHarnessStore(t, dstDB, dispatch.Options{}, testWebhookOptions, false, use(dstStore))
		compareInstallations(t, src, dst, dstDB, w)
		// Without its master key, kept apart from the backups, a backup cannot be read.
		if err := keys.NewService(dstDB, keys.NewMaster()).Check(ctx); !errors.Is(err, keys.ErrUnknownMaster) {
			t.Errorf("the backup opened under another master key: %v", err)
		}
	})
}

// use makes the harness's services use store instead of their own.
func use(store storage.Store) func(storage.Store) storage.Store {
	return func(storage.Store) storage.Store { return store }
}

// compareInstallations checks that dst answers every user of tenant alpha as src does,
// files included, and that dst's audit chains (the tenant's and the platform's) verify.
func compareInstallations(t *testing.T, src, dst *harness, dstDB *database.DB, w *world) {
	t.Helper()
	for _, chain := range []string{w.tenantA.ID, w.tenantB.ID, ""} {
		if brk, n, err := audit.Verify(context.Background(), dstDB, chain); err != nil || brk != nil || n == 0 {
			t.Errorf("audit verify of chain %q after restore: %v, %+v, %d events", chain, err, brk, n)
		}
	}
	// The people are the same, with the same phones.
	dst.apps = src.apps
	compared := 0
	for _, email := range []string{"admin@alpha.test", "reviewer@alpha.test", "editor@alpha.test", "viewer@alpha.test"} {
		before, after := src.login(email), dst.login(email)
		for _, path := range visiblePaths(t, before) {
			a, b := before.do("GET", path, nil), after.do("GET", path, nil)
			if a.Code == 200 {
				compared++
			}
			if a.Code != b.Code || normalizeTimes(a.Body.String(), path) != normalizeTimes(b.Body.String(), path) {
				t.Errorf("%s GET %s differs after restore:\n before %d %s\n after  %d %s", email, path, a.Code, clip(a.Body.String()), b.Code, clip(b.Body.String()))
			}
		}
	}
	if compared < 60 {
		t.Errorf("only %d answers compared", compared)
	}
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

package testrig

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestRigServicesAnswer checks that the services the rig announced are really there:
// every later integration test relies on them.
func TestRigServicesAnswer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("postgres", func(t *testing.T) {
		url := SkipOrFail(t, EnvPostgresURL, "PostgreSQL")
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var version int
		if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
			t.Fatal(err)
		}
		if version/10000 != 15 {
			t.Errorf("server_version_num = %d, want PostgreSQL 15", version)
		}
	})
	t.Run("minio", func(t *testing.T) {
		endpoint := SkipOrFail(t, EnvS3Endpoint, "MinIO")
		resp, err := http.Get("http://" + endpoint + "/minio/health/ready")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("MinIO readiness: %d", resp.StatusCode)
		}
	})
	t.Run("mailpit", func(t *testing.T) {
		api := SkipOrFail(t, EnvMailpitURL, "Mailpit")
		smtpAddr := SkipOrFail(t, EnvSMTPAddr, "Mailpit SMTP")
		resp, err := http.Get(api + "/api/v1/info")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var info struct{ Version string }
		if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || info.Version == "" {
			t.Errorf("Mailpit info: %v %+v", err, info)
		}
		conn, err := net.DialTimeout("tcp", smtpAddr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		greeting := make([]byte, 3)
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := conn.Read(greeting); err != nil || string(greeting) != "220" {
			t.Errorf("SMTP greeting %q, %v; want 220", greeting, err)
		}
	})
}

func TestPrivatePostgresStopStart(t *testing.T) {
	pg := PrivatePostgres(t)
	ctx := context.Background()
	ping := func() error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, pg.URL("postgres"))
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	}
	if err := ping(); err != nil {
		t.Fatal(err)
	}
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	if ping() == nil {
		t.Fatal("PostgreSQL still answers after Stop")
	}
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ping(); err != nil {
		t.Fatalf("after Start: %v", err)
	}
}

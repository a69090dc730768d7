package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/unionportal/unionportal/database"
)

// healthcheckDefaultTimeout bounds one probe: well inside the 30 s a container engine
// gives a HEALTHCHECK by default.
const healthcheckDefaultTimeout = 5 * time.Second

// healthcheck probes a running portal for a container engine or a supervisor that has
// no curl (the image is FROM scratch): it answers nil when GET url answers 200. An empty
// url is derived from UNIONPORTAL_ADDR (loopback, the configured port, /healthz).
// With database set it checks instead that the configured database answers, which is
// what a worker (no HTTP server) depends on.
func healthcheck(ctx context.Context, cfg *Config, url string, checkDatabase bool, timeout time.Duration, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if checkDatabase {
		db, err := database.Open(ctx, cfg.Database, database.Options{})
		if err != nil {
			return fmt.Errorf("%sDATABASE_URL: %v", envPrefix, err)
		}
		defer db.Close()
		fmt.Fprintf(stdout, "%s: ok\n", db)
		return nil
	}
	if url == "" {
		var err error
		if url, err = healthURL(cfg.Addr); err != nil {
			return err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("--url %q: %v", url, err)
	}
	client := &http.Client{
		// A redirect is not health: a proxy in the way would answer it.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		var oe *net.OpError
		if errors.As(err, &oe) {
			err = unwrapNet(oe)
		}
		return fmt.Errorf("%s: %v", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: answered %s, want 200", url, resp.Status)
	}
	fmt.Fprintf(stdout, "%s: ok\n", url)
	return nil
}

// healthURL is the /healthz URL of a portal listening on addr, reached over loopback:
// a wildcard or empty host becomes 127.0.0.1, a given host is kept.
func healthURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%sADDR=%q: %v", envPrefix, addr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}

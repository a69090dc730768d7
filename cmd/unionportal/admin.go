package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/unionportal/unionportal/apperr"
	"github.com/unionportal/unionportal/auth"
	"github.com/unionportal/unionportal/workflow"
)

// createSuperadmin reads a password from the first line of stdin and creates the
// platform superadmin (or makes an existing user one, with that password).
func createSuperadmin(ctx context.Context, cfg *Config, log *slog.Logger, email, name string, stdin io.Reader, stdout io.Writer) error {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the password from standard input: %v", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return errors.New("no password on standard input (pipe it in: printf '%s\\n' \"$PASSWORD\" | unionportal admin create-superadmin --email …)")
	}
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	u, err := a.auth.CreateSuperadmin(ctx, email, name, password)
	if err != nil {
		return fieldErrors(err)
	}
	fmt.Fprintf(stdout, "superadmin %s (%s) can now log in\n", u.Email, u.ID)
	return nil
}

// resetSecondFactors removes the factors and recovery codes of a user who lost them
// all (there is no API for another person's factors), and ends their sessions.
func resetSecondFactors(ctx context.Context, cfg *Config, log *slog.Logger, email string, stdout io.Writer) error {
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	n, err := a.auth.ResetSecondFactors(ctx, email)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d second factors removed, sessions ended; a factor is added again at the next login where a policy requires one\n", auth.NormalizeEmail(email), n)
	return nil
}

// fieldErrors turns a validation error into one line naming each field.
func fieldErrors(err error) error {
	if e, ok := apperr.As(err); ok && len(e.Fields) > 0 {
		var msgs []string
		for _, f := range e.Fields {
			msgs = append(msgs, f.Field+": "+f.Message)
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	return err
}

// tokenRequest is what admin create-token was asked for.
type tokenRequest struct {
	tenant, email, name, scopes, expires string
}

// createToken provisions an API token for an active member of a tenant, without a
// browser, and prints the token alone on stdout (what it is, on stderr), so that
// `TOKEN=$(unionportal admin create-token …)` captures it. The tenant's maximum token
// lifetime applies, and is the expiry when --expires is left out.
func createToken(ctx context.Context, cfg *Config, log *slog.Logger, req tokenRequest, stdout, stderr io.Writer) error {
	in := auth.TokenInput{Name: req.name}
	for _, s := range strings.Split(req.scopes, ",") {
		if s = strings.TrimSpace(s); s != "" {
			in.Scopes = append(in.Scopes, s)
		}
	}
	if in.Scopes == nil {
		return errors.New("--scopes: expected a comma-separated list of read, write, admin")
	}
	if req.expires != "" {
		at, err := expiryFrom(req.expires, time.Now())
		if err != nil {
			return err
		}
		in.ExpiresAt = &at
	}
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	t, err := a.auth.ProvisionToken(ctx, req.tenant, req.email, in)
	if err != nil {
		return fieldErrors(err)
	}
	expiry := "never"
	if t.ExpiresAt != nil {
		expiry = t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(stderr, "API token %q (%s…, id %s) for %s: scopes %s, expires %s\n",
		t.Name, t.Prefix, t.ID, req.email, strings.Join(t.Scopes, ","), expiry)
	if len(t.RefusedBy) > 0 {
		fmt.Fprintf(stderr, "note: its lifetime exceeds the token policy of %s, which will refuse it\n", strings.Join(t.RefusedBy, ", "))
	}
	_, err = fmt.Fprintln(stdout, t.Token)
	return err
}

// expiryFrom reads --expires: days ("90d"), a Go duration ("36h"), or an RFC 3339 time.
func expiryFrom(v string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return now.AddDate(0, 0, n), nil
		}
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--expires %q: expected days (90d), a duration (36h) or an RFC 3339 time", v)
}

// rotateMasterKey re-wraps every tenant key with the current master key. The former
// keys come from UNIONPORTAL_PREVIOUS_MASTER_KEYS; once it reports none left, remove
// them from the configuration. Safe to interrupt and run again.
func rotateMasterKey(ctx context.Context, cfg *Config, log *slog.Logger, out io.Writer) error {
	if len(cfg.PreviousMasters) == 0 {
		return errors.New(envPrefix + "PREVIOUS_MASTER_KEYS: give the former master key(s), and the new one as " + envPrefix + "MASTER_KEY")
	}
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	n, err := a.keys.RotateMaster(ctx)
	if err != nil {
		return fmt.Errorf("after re-wrapping %d tenant key(s): %v (run it again to go on)", n, err)
	}
	fmt.Fprintf(out, "re-wrapped %d tenant key(s) with the master key %s; %sPREVIOUS_MASTER_KEYS can now be removed\n", n, cfg.Master.ID, envPrefix)
	return nil
}

// encryptExisting encrypts what was stored before encryption at rest: the texts and
// evidence files of submissions, then what dispatches kept. It prints its progress and,
// at the end, what is left in clear (nothing, unless files no longer match their
// hash). Safe to interrupt and run again; the portal may keep running meanwhile.
func encryptExisting(ctx context.Context, cfg *Config, log *slog.Logger, out io.Writer) error {
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	last := time.Now()
	p, err := a.wf.EncryptExisting(ctx, func(p workflow.EncryptProgress) {
		if time.Since(last) > 2*time.Second {
			fmt.Fprintf(out, "… %d text(s) sealed, %d file(s) encrypted (%s)\n", p.Texts, p.Files, humanBytes(p.Bytes))
			last = time.Now()
		}
	})
	if err != nil {
		return fmt.Errorf("after %d text(s) and %d file(s): %v (run it again to go on)", p.Texts, p.Files, err)
	}
	fmt.Fprintf(out, "sealed %d text(s); encrypted %d evidence file(s) (%s)\n", p.Texts, p.Files, humanBytes(p.Bytes))
	n, err := a.dispatch.EncryptExisting(ctx, func(int) {})
	if err != nil {
		return fmt.Errorf("after %d dispatch file(s): %v (run it again to go on)", n, err)
	}
	fmt.Fprintf(out, "encrypted %d letter(s), manifest(s) and cleaned cop(ies) of dispatches\n", n)
	secrets, err := a.services.Webhooks.SealExistingSecrets(ctx)
	if err != nil {
		return fmt.Errorf("after %d webhook secret(s): %v (run it again to go on)", secrets, err)
	}
	fmt.Fprintf(out, "sealed %d webhook signing secret(s)\n", secrets)
	for _, id := range p.Mismatched {
		fmt.Fprintf(out, "left in clear: attachment %s, whose stored bytes do not match the SHA-256 recorded at upload; look at it\n", id)
	}
	texts, files, err := a.wf.PlaintextLeft(ctx)
	if err != nil {
		return err
	}
	sent, err := a.dispatch.PlaintextLeft(ctx)
	if err != nil {
		return err
	}
	if texts+files+sent == 0 {
		fmt.Fprintln(out, "nothing is left in clear")
	} else {
		fmt.Fprintf(out, "left in clear: %d text(s), %d evidence file(s), %d dispatch(es)\n", texts, files, sent)
	}
	return nil
}

// humanBytes writes n in KiB, MiB or GiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

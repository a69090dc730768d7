package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/unionportal/unionportal/apperr"
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
		if e, ok := apperr.As(err); ok && len(e.Fields) > 0 {
			var msgs []string
			for _, f := range e.Fields {
				msgs = append(msgs, f.Field+": "+f.Message)
			}
			return errors.New(strings.Join(msgs, "; "))
		}
		return err
	}
	fmt.Fprintf(stdout, "superadmin %s (%s) can now log in\n", u.Email, u.ID)
	return nil
}

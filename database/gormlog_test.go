package database

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm/logger"
)

// TestGormLoggerBuildsSQLOnlyWhenLogging: Trace asks gorm for a statement's text (fc)
// only when it logs the statement, and then logs it without its arguments.
func TestGormLoggerBuildsSQLOnlyWhenLogging(t *testing.T) {
	slow := 500 * time.Millisecond
	failed := errors.New("boom")
	for _, tc := range []struct {
		name    string
		level   logger.LogLevel
		handler slog.Level // the slog handler's minimum level
		took    time.Duration
		err     error
		logged  string // the level logged at, "" for none
	}{
		{"fast, no error, Warn", logger.Warn, slog.LevelInfo, time.Millisecond, nil, ""},
		{"record not found", logger.Warn, slog.LevelInfo, time.Millisecond, logger.ErrRecordNotFound, ""},
		{"silent, failed", logger.Silent, slog.LevelInfo, time.Millisecond, failed, ""},
		{"failed", logger.Warn, slog.LevelInfo, time.Millisecond, failed, "ERROR"},
		{"slow", logger.Warn, slog.LevelInfo, time.Second, nil, "WARN"},
		{"slow, handler above Warn", logger.Warn, slog.LevelError, time.Second, nil, ""},
		{"fast, Info", logger.Info, slog.LevelInfo, time.Millisecond, nil, "INFO"},
		{"fast, Info, handler above Info", logger.Info, slog.LevelWarn, time.Millisecond, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			l := newGormLogger(slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: tc.handler})), logger.Warn, slow).LogMode(tc.level)
			calls := 0
			fc := func() (string, int64) { calls++; return "SELECT 1 WHERE x = $1", 1 }
			l.Trace(context.Background(), time.Now().Add(-tc.took), fc, tc.err)
			if tc.logged == "" {
				if calls != 0 || out.Len() != 0 {
					t.Errorf("fc called %d times, logged %q; want neither", calls, out.String())
				}
				return
			}
			if calls != 1 || !strings.Contains(out.String(), "level="+tc.logged) || !strings.Contains(out.String(), "SELECT 1 WHERE x = $1") {
				t.Errorf("fc called %d times, logged %q; want once, at %s", calls, out.String(), tc.logged)
			}
		})
	}
	if sql, vars := newGormLogger(slog.New(slog.DiscardHandler), logger.Warn, slow).ParamsFilter(context.Background(), "SELECT $1", "secret"); sql != "SELECT $1" || vars != nil {
		t.Errorf("ParamsFilter kept %v", vars)
	}
}

// TestFailedStatementsLogNoArguments: a failed statement is logged with its text but
// never its arguments, whether it ran through Find or through gorm's Scan (whose
// recorder builds the text with the arguments unless told otherwise).
func TestFailedStatementsLogNoArguments(t *testing.T) {
	var out bytes.Buffer // the statements run, and are logged, in this goroutine
	db, err := Open(context.Background(), Target{Dialect: SQLite, DSN: t.TempDir() + "/t.db"},
		Options{Logger: slog.New(slog.NewJSONHandler(&out, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows []struct{ X string }
	for name, run := range map[string]func() error{
		"Find": func() error {
			return db.Conn(context.Background()).Raw("SELECT x FROM no_such_table WHERE x = ?", "secret-argument-find").Find(&rows).Error
		},
		"Scan": func() error {
			return db.Conn(context.Background()).Raw("SELECT x FROM no_such_table WHERE x = ?", "secret-argument-scan").Scan(&rows).Error
		},
	} {
		if err := run(); err == nil {
			t.Fatalf("%s: the statement on a missing table succeeded", name)
		}
	}
	logged := out.String()
	if strings.Count(logged, `"sql":"SELECT x FROM no_such_table WHERE x = ?"`) != 2 {
		t.Errorf("want both failed statements logged with their text:\n%s", logged)
	}
	if strings.Contains(logged, "secret-argument") {
		t.Errorf("a statement's argument reached the log:\n%s", logged)
	}
}

// TestLoggedPlaceholders: a PostgreSQL statement is logged with its placeholders as
// written ($1), not as gorm's Explain leaves them without arguments ($1$).
func TestLoggedPlaceholders(t *testing.T) {
	var out bytes.Buffer
	l := newGormLogger(slog.New(slog.NewTextHandler(&out, nil)), logger.Warn, time.Second)
	explained := postgres.Dialector{}.Explain("SELECT a FROM t WHERE b = $1 AND c = $12", []any{}...)
	l.Trace(context.Background(), time.Now(), func() (string, int64) { return explained, 0 }, errors.New("boom"))
	if !strings.Contains(out.String(), "WHERE b = $1 AND c = $12") {
		t.Errorf("logged %q (gorm explained %q)", out.String(), explained)
	}
}

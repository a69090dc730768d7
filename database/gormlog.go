package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"gorm.io/gorm/utils"
)

// gormLogger logs gorm's statements through slog: failed ones at Error, slow ones at
// Warn, and every one at Info when gorm's level is Info. It is gorm's slog logger with
// one difference: Trace decides whether a statement will be logged before it asks gorm
// for the statement's text. gorm's own logger builds that text (the SQL with its
// arguments, through a regexp) for every statement and then drops it, which cost about
// a tenth of the portal's CPU on the list benchmark (issue 17).
type gormLogger struct {
	log   *slog.Logger
	level logger.LogLevel
	// slow is the duration above which a statement is logged at Warn; 0 never.
	slow time.Duration
}

var (
	_ logger.Interface  = (*gormLogger)(nil)
	_ gorm.ParamsFilter = (*gormLogger)(nil)
)

// gorm's Scan (unlike Find) always builds a statement's text with its arguments, through
// logger.Recorder, and then passes that text to the logger: a failed or slow Scan would
// log its arguments (e-mail addresses, token hashes) and every Scan pays for a regexp.
// The recorder keeps the placeholders only, as ParamsFilter does for every other
// statement. The portal's own code uses Find (internal/archtest keeps it so).
func init() {
	logger.RecorderParamsFilter = func(_ context.Context, sql string, _ ...any) (string, []any) { return sql, nil }
}

// explainedPlaceholder is "$1$", a PostgreSQL placeholder as gorm's Explain leaves it
// without its argument (ParamsFilter drops them all). No dollar-quote tag starts with a
// digit, so nothing else in a statement looks like it.
var explainedPlaceholder = regexp.MustCompile(`\$(\d+)\$`)

func newGormLogger(log *slog.Logger, level logger.LogLevel, slow time.Duration) *gormLogger {
	return &gormLogger{log: log, level: level, slow: slow}
}

// LogMode returns a copy at level.
func (l *gormLogger) LogMode(level logger.LogLevel) logger.Interface {
	c := *l
	c.level = level
	return &c
}

// Info logs msg at Info when gorm's level allows it.
func (l *gormLogger) Info(ctx context.Context, msg string, data ...any) {
	if l.level >= logger.Info {
		l.emit(ctx, slog.LevelInfo, msg, slog.Any("data", data))
	}
}

// Warn logs msg at Warn when gorm's level allows it.
func (l *gormLogger) Warn(ctx context.Context, msg string, data ...any) {
	if l.level >= logger.Warn {
		l.emit(ctx, slog.LevelWarn, msg, slog.Any("data", data))
	}
}

// Error logs msg at Error when gorm's level allows it.
func (l *gormLogger) Error(ctx context.Context, msg string, data ...any) {
	if l.level >= logger.Error {
		l.emit(ctx, slog.LevelError, msg, slog.Any("data", data))
	}
}

// Trace logs one statement: at Error when it failed (a record not found is no
// failure), at Warn when it was slow, at Info when gorm's level is Info. Only then
// does it call fc, which builds the statement's text.
func (l *gormLogger) Trace(ctx context.Context, begin time.Time, fc func() (sql string, rowsAffected int64), err error) {
	if l.level <= logger.Silent {
		return
	}
	elapsed := time.Since(begin)
	var level slog.Level
	switch {
	case err != nil && !errors.Is(err, logger.ErrRecordNotFound):
		level = slog.LevelError
	case l.slow != 0 && elapsed > l.slow:
		level = slog.LevelWarn
	case l.level >= logger.Info:
		level = slog.LevelInfo
	default:
		return
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if !l.log.Enabled(ctx, level) {
		return
	}
	sql, rows := fc()
	// gorm's PostgreSQL dialect writes a placeholder it has no argument for as "$1$".
	sql = explainedPlaceholder.ReplaceAllString(sql, "$$$1")
	fields := []slog.Attr{
		slog.String("duration", fmt.Sprintf("%.3fms", float64(elapsed.Nanoseconds())/1e6)),
		slog.String("sql", sql),
	}
	if rows != -1 {
		fields = append(fields, slog.Int64("rows", rows))
	}
	if level == slog.LevelError {
		fields = append(fields, slog.String("error", err.Error()))
	}
	l.emit(ctx, level, "SQL executed", slog.Attr{Key: "trace", Value: slog.GroupValue(fields...)})
}

// ParamsFilter keeps statements' arguments out of the log: a statement is logged with
// its placeholders only (gorm's ParameterizedQueries).
func (l *gormLogger) ParamsFilter(_ context.Context, sql string, _ ...any) (string, []any) {
	return sql, nil
}

func (l *gormLogger) emit(ctx context.Context, level slog.Level, msg string, attrs ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	if !l.log.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, utils.CallerFrame().PC)
	r.Add(attrs...)
	_ = l.log.Handler().Handle(ctx, r)
}

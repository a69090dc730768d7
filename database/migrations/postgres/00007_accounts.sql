-- +goose Up
-- Login limits: one counter per (address, account) and per address, keyed by a SHA-256
-- of what it counts (auth/loginlimit.go). They replace login_attempts.
CREATE TABLE login_limits (
    key_hash TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX login_limits_last_at ON login_limits (last_at);
DROP TABLE login_attempts;

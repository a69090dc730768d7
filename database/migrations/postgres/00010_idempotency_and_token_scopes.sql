-- +goose Up
-- Idempotency keys (auth/idempotency.go, ADR 0022): one row per (user, Idempotency-Key)
-- for 24 hours. A request that finds no row inserts one ('running') and runs; the
-- primary key makes concurrent first requests safe: one inserts, the others find its row.
-- When it ends the row keeps what a repetition compares (fingerprint: SHA-256 of method,
-- path, media type and body; body_bytes: the body's length as hashed) and replays (the
-- status, a few headers, and the body, encrypted with a key derived from the secret key).
-- attempt names the request that holds a running row, so that only it finishes or
-- releases it.
CREATE TABLE idempotency_keys (
    user_id     UUID NOT NULL REFERENCES users (id),
    idem_key    TEXT NOT NULL,
    attempt     TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('running', 'done')),
    started_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    fingerprint TEXT NOT NULL DEFAULT '',
    body_bytes  BIGINT NOT NULL DEFAULT 0,
    status      INTEGER NOT NULL DEFAULT 0,
    headers     TEXT NOT NULL DEFAULT '{}',
    body        BYTEA,
    PRIMARY KEY (user_id, idem_key)
);
CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at);

-- API token scopes, space-separated (read, write, admin). Tokens made before scopes
-- existed keep every right they had.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT NOT NULL DEFAULT 'read write admin';

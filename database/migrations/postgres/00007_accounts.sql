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

-- API tokens: whether a token may create tokens (only a session, or a token that may,
-- can give that), and the token that created it, whose revocation revokes it too.
ALTER TABLE api_tokens ADD COLUMN can_create_tokens BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE api_tokens ADD COLUMN parent_id UUID REFERENCES api_tokens (id);
CREATE INDEX api_tokens_parent ON api_tokens (parent_id);

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

-- Invitations: a tenant admin invites an e-mail address into the tenant; the person
-- accepts (or declines) from their own account. created_user_id is the account the
-- invitation made for an e-mail that had none; that account accepts at its first login.
CREATE TABLE invitations (
    id              UUID PRIMARY KEY,
    tenant_id       UUID NOT NULL REFERENCES tenants (id),
    email           TEXT NOT NULL,
    name            TEXT NOT NULL,
    organization_id UUID NOT NULL REFERENCES organizations (id),
    roles           TEXT NOT NULL,
    invited_by      UUID REFERENCES users (id),
    created_user_id UUID REFERENCES users (id),
    status          TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'declined', 'revoked', 'expired')),
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL,
    decided_at      TIMESTAMPTZ
);
CREATE UNIQUE INDEX invitations_pending ON invitations (tenant_id, email) WHERE status = 'pending';
CREATE INDEX invitations_tenant ON invitations (tenant_id, created_at, id);
CREATE INDEX invitations_email ON invitations (email, status);
CREATE INDEX invitations_created_user ON invitations (created_user_id);

-- +goose Up
-- Second factors and step-up (auth; ADR 0032).
--
-- A tenant's second-factor policy: who among its members must have a second factor
-- (privileged_roles: tenant_admin, reviewer, signatory; all_members; none).
-- Superadmins always must, whatever their tenants say.
ALTER TABLE tenants ADD COLUMN second_factor_required_for TEXT NOT NULL DEFAULT 'privileged_roles'
    CHECK (second_factor_required_for IN ('privileged_roles', 'all_members', 'none'));

-- A session's last use of a second factor (or of the password, for a user without one):
-- acts that matter need one within the last 10 minutes. webauthn_challenge holds the
-- ceremony data of a step-up with a security key between its challenge and its answer.
ALTER TABLE sessions ADD COLUMN reauthenticated_at TIMESTAMP;
ALTER TABLE sessions ADD COLUMN webauthn_challenge TEXT;

-- A user's second factors. A factor is pending until activated (activated_at) with a
-- code or the authenticator's answer. TOTP: the secret sealed under the installation's
-- key (keys.PlatformKey) with the user, table, column and row as associated data, and
-- the last time step accepted (a code of that step or an earlier one is refused, so a
-- code is accepted once). WebAuthn: the credential's id (base64url, unique) and its
-- record as JSON (public key, flags, signature counter); webauthn_challenge holds the
-- registration ceremony until activation.
CREATE TABLE auth_factors (
    id                 TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users (id),
    type               TEXT NOT NULL CHECK (type IN ('totp', 'webauthn')),
    name               TEXT NOT NULL,
    totp_secret        TEXT,
    totp_last_step     BIGINT,
    credential_id      TEXT UNIQUE,
    credential         TEXT,
    webauthn_challenge TEXT,
    created_at         TIMESTAMP NOT NULL,
    activated_at       TIMESTAMP,
    last_used_at       TIMESTAMP
);
CREATE INDEX auth_factors_user ON auth_factors (user_id, created_at, id);

-- Single-use recovery codes, shown once: an HMAC-SHA256 of each (keyed with a key
-- derived from the installation's key), never the code.
CREATE TABLE auth_recovery_codes (
    user_id    TEXT NOT NULL REFERENCES users (id),
    code_hash  TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP,
    PRIMARY KEY (user_id, code_hash)
);

-- Logins whose password was right and that wait for the second factor: the SHA-256 of
-- the pending cookie's token, for 5 minutes, used once.
CREATE TABLE auth_pending_logins (
    token_hash         TEXT PRIMARY KEY,
    user_id            TEXT NOT NULL REFERENCES users (id),
    created_at         TIMESTAMP NOT NULL,
    expires_at         TIMESTAMP NOT NULL,
    ip                 TEXT NOT NULL DEFAULT '',
    webauthn_challenge TEXT
);
CREATE INDEX auth_pending_logins_expires ON auth_pending_logins (expires_at);

-- +goose Down
DROP TABLE auth_pending_logins;
DROP TABLE auth_recovery_codes;
DROP TABLE auth_factors;
ALTER TABLE sessions DROP COLUMN webauthn_challenge;
ALTER TABLE sessions DROP COLUMN reauthenticated_at;
ALTER TABLE tenants DROP COLUMN second_factor_required_for;

-- +goose Up
-- Less personal data, and the tenant's own audit view (ADR 0033).
--
-- Sessions no longer keep the browser's user agent. The addresses of sessions opened
-- before this are dropped (they end within UNIONPORTAL_SESSION_MAX_AGE anyway); new ones
-- keep what UNIONPORTAL_IP_RETENTION allows. Audit events are not rewritten: the address
-- is part of each event's hash, so changing it would break the chain.
ALTER TABLE sessions DROP COLUMN user_agent;
UPDATE sessions SET ip = '';
-- The login counters are now keyed by an HMAC under the secret key; the old keys were
-- plain SHA-256 hashes of addresses, which anyone can reverse by trying every address.
-- Counting starts afresh.
DELETE FROM login_limits;
-- The audit view: a member's account events (platform chain) by actor and action, and
-- the actor filter.
CREATE INDEX events_actor ON events (actor_id, action, id);
-- Tenant admins (and so superadmins) read the tenant's audit trail.
INSERT INTO casbin_rule (ptype, v0, v1) VALUES ('p', 'tenant_admin', 'audit:read');
UPDATE authz_state SET version = version + 1;

-- +goose Down
DELETE FROM casbin_rule WHERE ptype = 'p' AND v0 = 'tenant_admin' AND v1 = 'audit:read';
UPDATE authz_state SET version = version + 1;
DROP INDEX events_actor;
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';

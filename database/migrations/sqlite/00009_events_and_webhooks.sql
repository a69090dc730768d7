-- +goose Up
-- The tenant event feed (workflow/feed.go): one row per event integrators are told of,
-- numbered per tenant in commit order (the head row is locked by each writer until it
-- commits). submission_id has no foreign key: a deleted draft's events stay in the feed.
CREATE TABLE tenant_event_heads (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants (id),
    seq       INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE tenant_events (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    seq             INTEGER NOT NULL,
    type            TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    submission_id   TEXT NOT NULL,
    data            TEXT NOT NULL,
    created_at      TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX tenant_events_seq ON tenant_events (tenant_id, seq);
CREATE INDEX tenant_events_organization ON tenant_events (tenant_id, organization_id, seq);

-- Webhook endpoints (webhook/): the signing secret is kept as the server needs it to
-- sign; it is shown once, at creation.
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL,
    disabled_reason TEXT NOT NULL DEFAULT '',
    secret          TEXT NOT NULL,
    created_by      TEXT REFERENCES users (id),
    created_at      TIMESTAMP NOT NULL,
    updated_at      TIMESTAMP NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, created_at, id);

-- One row per attempt to deliver an event to an endpoint.
CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id),
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id),
    event_id        TEXT NOT NULL REFERENCES tenant_events (id),
    event_type      TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('delivered', 'failed')),
    response_code   INTEGER NOT NULL DEFAULT 0,
    error           TEXT NOT NULL DEFAULT '',
    duration_ms     INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP,
    created_at      TIMESTAMP NOT NULL
);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at, id);

-- Tenant admins manage the tenant's webhooks.
INSERT INTO casbin_rule (ptype, v0, v1) VALUES ('p', 'tenant_admin', 'webhook:manage');
UPDATE authz_state SET version = version + 1;

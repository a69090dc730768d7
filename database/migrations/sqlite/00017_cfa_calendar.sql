-- +goose Up
-- The CFA calendar (ADR 0034): each tenant keeps the Committee on Freedom of
-- Association's sessions and, for each, the date by which information must reach the
-- Office. Nothing is hard-coded: the tenant enters them. Dates are calendar days kept as
-- YYYY-MM-DD text on both databases, so that they compare as text and never shift with
-- a time zone.
CREATE TABLE cfa_sessions (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id),
    name       TEXT NOT NULL,
    starts_on  TEXT NOT NULL CHECK (length(starts_on) = 10),
    deadline   TEXT NOT NULL CHECK (length(deadline) = 10 AND deadline <= starts_on),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX cfa_sessions_tenant_deadline ON cfa_sessions (tenant_id, deadline, id);
-- The deadline reminders sent: one row per person, session, deadline and threshold (14
-- or 3 days before), written in the transaction that enqueues the notification, so that
-- a rerun of the daily job sends nothing twice. A changed deadline is a new deadline.
CREATE TABLE cfa_reminders (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    session_id  TEXT NOT NULL REFERENCES cfa_sessions (id) ON DELETE CASCADE,
    deadline    TEXT NOT NULL,
    days_before INTEGER NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    sent_at     TIMESTAMP NOT NULL,
    PRIMARY KEY (session_id, deadline, days_before, user_id)
);

-- +goose Down
DROP TABLE cfa_reminders;
DROP TABLE cfa_sessions;

-- +goose Up
-- One dispatch per entry into dispatching (a resend starts another); one delivery per
-- recipient the SMTP server answered for.
CREATE TABLE dispatches (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    revision      INTEGER NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
    message_id    TEXT NOT NULL UNIQUE,
    sandbox       BOOLEAN NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    letter_key    TEXT NOT NULL DEFAULT '',
    manifest_key  TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMP NOT NULL,
    sent_at       TIMESTAMP
);
CREATE INDEX dispatches_submission ON dispatches (submission_id, created_at);

CREATE TABLE deliveries (
    id          TEXT PRIMARY KEY,
    dispatch_id TEXT NOT NULL REFERENCES dispatches (id),
    address     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('accepted', 'rejected')),
    response    TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMP NOT NULL
);
CREATE INDEX deliveries_dispatch ON deliveries (dispatch_id);

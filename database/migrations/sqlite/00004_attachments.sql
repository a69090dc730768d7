-- +goose Up
-- Evidence files. The object key is built from ids only; the client's file name is kept
-- here, for display and Content-Disposition. A row exists only for a stored object.
CREATE TABLE attachments (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    submission_id TEXT NOT NULL REFERENCES submissions (id),
    object_key    TEXT NOT NULL UNIQUE,
    file_name     TEXT NOT NULL,
    size          INTEGER NOT NULL,
    content_type  TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    created_by    TEXT NOT NULL REFERENCES users (id),
    created_at    TIMESTAMP NOT NULL,
    -- in_revision: a submitted revision lists it, so its object is never deleted.
    in_revision   BOOLEAN NOT NULL DEFAULT FALSE,
    -- deleted_at: removed from the submission, but kept for the revisions that list it.
    deleted_at    TIMESTAMP
);
CREATE INDEX attachments_submission ON attachments (submission_id, created_at, id);

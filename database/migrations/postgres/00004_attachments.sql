-- +goose Up
-- Evidence files. The object key is built from ids only; the client's file name is kept
-- here, for display and Content-Disposition. A row exists only for a stored object.
CREATE TABLE attachments (
    id            UUID PRIMARY KEY,
    tenant_id     UUID NOT NULL REFERENCES tenants (id),
    submission_id UUID NOT NULL REFERENCES submissions (id),
    object_key    TEXT NOT NULL UNIQUE,
    file_name     TEXT NOT NULL,
    size          BIGINT NOT NULL,
    content_type  TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    created_by    UUID NOT NULL REFERENCES users (id),
    created_at    TIMESTAMPTZ NOT NULL,
    -- in_revision: a submitted revision lists it, so its object is never deleted.
    in_revision   BOOLEAN NOT NULL DEFAULT FALSE,
    -- deleted_at: removed from the submission, but kept for the revisions that list it.
    deleted_at    TIMESTAMPTZ
);
CREATE INDEX attachments_submission ON attachments (submission_id, created_at, id);

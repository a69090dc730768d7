-- +goose Up
-- The ILO's correspondence (ADR 0036). Each tenant may have one IMAP mailbox that the
-- portal reads (never changes, but for an optional flag or folder for what it
-- imported); its password is sealed under the tenant's key. The inbound package owns it.
CREATE TABLE mailboxes (
    tenant_id          UUID PRIMARY KEY REFERENCES tenants (id),
    enabled            BOOLEAN NOT NULL DEFAULT FALSE,
    host               TEXT NOT NULL,
    port               INTEGER NOT NULL,
    tls                TEXT NOT NULL CHECK (tls IN ('implicit', 'starttls')),
    username           TEXT NOT NULL,
    password           TEXT NOT NULL,
    folder             TEXT NOT NULL,
    after_import       TEXT NOT NULL CHECK (after_import IN ('leave', 'flag', 'move')),
    move_to            TEXT NOT NULL DEFAULT '',
    trusted_authserv_id TEXT NOT NULL DEFAULT '',
    uid_validity       BIGINT NOT NULL DEFAULT 0,
    last_uid           BIGINT NOT NULL DEFAULT 0,
    last_polled_at     TIMESTAMPTZ,
    last_error         TEXT NOT NULL DEFAULT '',
    imported           INTEGER NOT NULL DEFAULT 0,
    updated_at         TIMESTAMPTZ NOT NULL
);
-- The messages imported into cases (the workflow owns them). Subject, body and the
-- sender's name are sealed under the item's own data key (submission_keys, keyed by
-- the item's id); the Message-ID makes an import idempotent: one per tenant.
CREATE TABLE correspondence_items (
    id                  UUID PRIMARY KEY,
    tenant_id           UUID NOT NULL REFERENCES tenants (id),
    case_id             UUID NOT NULL REFERENCES cases (id),
    submission_id       UUID REFERENCES submissions (id) ON DELETE SET NULL,
    dispatch_id         UUID,
    matched_by          TEXT NOT NULL CHECK (matched_by IN ('thread', 'case_number')),
    message_id          TEXT NOT NULL,
    in_reply_to         TEXT NOT NULL DEFAULT '',
    references_ids      TEXT NOT NULL DEFAULT '',
    from_address        TEXT NOT NULL,
    from_name           TEXT NOT NULL DEFAULT '',
    subject             TEXT NOT NULL DEFAULT '',
    body                TEXT NOT NULL DEFAULT '',
    sent_at             TIMESTAMPTZ,
    received_at         TIMESTAMPTZ NOT NULL,
    kind                TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('none', 'open', 'answered')),
    spf                 TEXT NOT NULL DEFAULT 'none',
    dkim                TEXT NOT NULL DEFAULT 'none',
    dmarc               TEXT NOT NULL DEFAULT 'none',
    auth_source         TEXT NOT NULL,
    authenticated       BOOLEAN NOT NULL DEFAULT FALSE,
    sender_warning      BOOLEAN NOT NULL DEFAULT FALSE,
    -- shared: visible to the case's organizations, not only the secretariat (an
    -- authenticated sender, or a reply to our letter; else once a reviewer says so).
    shared              BOOLEAN NOT NULL DEFAULT FALSE,
    answered_by         UUID,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX correspondence_items_message ON correspondence_items (tenant_id, message_id);
CREATE INDEX correspondence_items_case ON correspondence_items (case_id, received_at);
CREATE TABLE correspondence_files (
    id           UUID PRIMARY KEY,
    tenant_id    UUID NOT NULL REFERENCES tenants (id),
    item_id      UUID NOT NULL REFERENCES correspondence_items (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    file_name    TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    sha256       TEXT NOT NULL,
    object_key   TEXT NOT NULL
);
CREATE INDEX correspondence_files_item ON correspondence_files (item_id, position);
-- A draft started to answer an item: its dispatch replies in the item's e-mail thread.
-- (No REFERENCES: items refer to submissions, and a tenant's export is imported parents
-- first; the workflow checks the item on creation.)
ALTER TABLE submissions ADD COLUMN reply_to_item_id UUID;

-- +goose Down
ALTER TABLE submissions DROP COLUMN reply_to_item_id;
DROP TABLE correspondence_files;
DROP TABLE correspondence_items;
DROP TABLE mailboxes;

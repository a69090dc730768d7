-- +goose Up
-- Tenant settings, cases, submissions with their revisions, contributors, approvals and
-- comments.

ALTER TABLE tenants ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';

CREATE TABLE cases (
    id           UUID PRIMARY KEY,
    tenant_id    UUID NOT NULL REFERENCES tenants (id),
    number       TEXT NOT NULL DEFAULT '',
    country      TEXT NOT NULL,
    title        TEXT NOT NULL,
    complainants TEXT NOT NULL DEFAULT '[]',
    status       TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    normlex_url  TEXT NOT NULL DEFAULT '',
    created_by   UUID NOT NULL REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX cases_tenant_number ON cases (tenant_id, number) WHERE number <> '';
CREATE INDEX cases_tenant_created ON cases (tenant_id, created_at, id);

CREATE TABLE submissions (
    id               UUID PRIMARY KEY,
    tenant_id        UUID NOT NULL REFERENCES tenants (id),
    case_id          UUID NOT NULL REFERENCES cases (id),
    organization_id  UUID NOT NULL REFERENCES organizations (id),
    author_id        UUID NOT NULL REFERENCES users (id),
    kind             TEXT NOT NULL CHECK (kind IN ('complaint', 'additional_information', 'association', 'follow_up')),
    title            TEXT NOT NULL,
    body             TEXT NOT NULL,
    language         TEXT NOT NULL,
    state            TEXT NOT NULL,
    version          BIGINT NOT NULL,
    revision         INTEGER NOT NULL DEFAULT 0,
    reviewer_id      UUID REFERENCES users (id),
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
-- Lists are newest first, keyset-paginated on (created_at, id), within a tenant and
-- optionally one filter; these indexes serve page 1 and page 2,000 alike.
CREATE INDEX submissions_list ON submissions (tenant_id, created_at DESC, id DESC);
CREATE INDEX submissions_list_org ON submissions (tenant_id, organization_id, created_at DESC, id DESC);
CREATE INDEX submissions_list_state ON submissions (tenant_id, state, created_at DESC, id DESC);
CREATE INDEX submissions_list_case ON submissions (tenant_id, case_id, created_at DESC, id DESC);

CREATE TABLE submission_contributors (
    submission_id UUID NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    user_id       UUID NOT NULL REFERENCES users (id),
    PRIMARY KEY (submission_id, user_id)
);

CREATE TABLE revisions (
    id            UUID PRIMARY KEY,
    tenant_id     UUID NOT NULL REFERENCES tenants (id),
    submission_id UUID NOT NULL REFERENCES submissions (id),
    number        INTEGER NOT NULL,
    title         TEXT NOT NULL,
    body          TEXT NOT NULL,
    language      TEXT NOT NULL,
    attachments   TEXT NOT NULL DEFAULT '[]',
    created_by    UUID NOT NULL REFERENCES users (id),
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (submission_id, number)
);

CREATE TABLE approvals (
    id            UUID PRIMARY KEY,
    tenant_id     UUID NOT NULL REFERENCES tenants (id),
    submission_id UUID NOT NULL REFERENCES submissions (id),
    revision      INTEGER NOT NULL,
    reviewer_id   UUID NOT NULL REFERENCES users (id),
    created_at    TIMESTAMPTZ NOT NULL,
    UNIQUE (submission_id, revision, reviewer_id)
);

CREATE TABLE comments (
    id            UUID PRIMARY KEY,
    tenant_id     UUID NOT NULL REFERENCES tenants (id),
    submission_id UUID NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    author_id     UUID NOT NULL REFERENCES users (id),
    body          TEXT NOT NULL,
    revision      INTEGER,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX comments_submission ON comments (submission_id, created_at, id);

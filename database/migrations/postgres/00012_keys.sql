-- +goose Up
-- The key hierarchy of encryption at rest (package keys). A tenant's key-encryption key,
-- wrapped by the master key named by master_key_id; a submission's data key, wrapped by
-- its tenant's key. The master key itself is never stored. Deleting a row makes what its
-- key encrypted unreadable everywhere (crypto-shredding).
CREATE TABLE tenant_keys (
    tenant_id     TEXT PRIMARY KEY,
    master_key_id TEXT NOT NULL,
    wrapped       TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    rotated_at    TIMESTAMPTZ
);
CREATE TABLE submission_keys (
    submission_id TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    wrapped       TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX submission_keys_tenant ON submission_keys (tenant_id);

-- +goose Down
DROP TABLE submission_keys;
DROP TABLE tenant_keys;

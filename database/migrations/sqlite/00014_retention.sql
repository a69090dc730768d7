-- +goose Up
-- Retention (ADR 0030). A dispatched submission whose content was crypto-shredded keeps
-- its row, with shredded_at set; a draft's editors are told once per idle period that it
-- will be deleted (retention_warned_at, compared with its last change).
ALTER TABLE submissions ADD COLUMN shredded_at TIMESTAMP;
ALTER TABLE submissions ADD COLUMN retention_warned_at TIMESTAMP;
-- What a dispatch sent, in a plain column that outlives the submission's data key: the
-- size and SHA-256 of the letter and of each evidence file (no names, no content), and
-- when its stored letter, manifest and cleaned copies were shredded.
ALTER TABLE dispatches ADD COLUMN sent_files TEXT NOT NULL DEFAULT '[]';
ALTER TABLE dispatches ADD COLUMN shredded_at TIMESTAMP;

-- +goose Down
ALTER TABLE dispatches DROP COLUMN shredded_at;
ALTER TABLE dispatches DROP COLUMN sent_files;
ALTER TABLE submissions DROP COLUMN retention_warned_at;
ALTER TABLE submissions DROP COLUMN shredded_at;

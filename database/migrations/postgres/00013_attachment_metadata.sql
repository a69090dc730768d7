-- +goose Up
-- What identifying metadata an evidence file carries (a JSON list of short descriptions)
-- and what happens to it when the file leaves the portal: clean, cleaned_on_send or
-- cannot_clean. Files uploaded before this change are 'unchecked': the dispatch checks
-- them when it sends them (ADR 0028).
ALTER TABLE attachments ADD COLUMN metadata_found TEXT NOT NULL DEFAULT '[]';
ALTER TABLE attachments ADD COLUMN clean_status TEXT NOT NULL DEFAULT 'unchecked';

-- +goose Down
ALTER TABLE attachments DROP COLUMN clean_status;
ALTER TABLE attachments DROP COLUMN metadata_found;

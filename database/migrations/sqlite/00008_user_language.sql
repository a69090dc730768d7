-- +goose Up
-- The interface language a user chose (a BCP 47 tag such as "fr"; '' for the browser's).
ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT '';

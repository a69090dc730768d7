-- +goose Up
-- The first statement succeeds and must be rolled back with the second, which fails.
CREATE TABLE gadgets (id INTEGER PRIMARY KEY);
INSERT INTO no_such_table (id) VALUES (1);

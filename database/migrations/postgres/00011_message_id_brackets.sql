-- +goose Up
-- One form of the Message-ID everywhere: with its angle brackets, as in the e-mail.
UPDATE dispatches SET message_id = '<' || message_id || '>' WHERE message_id NOT LIKE '<%';

-- +goose Down
UPDATE dispatches SET message_id = substr(message_id, 2, length(message_id) - 2) WHERE message_id LIKE '<%>';

-- Requests whose credential the server refused (401): counted per API, never kept one row each,
-- so that a client trying thousands of keys grows no log.
CREATE TABLE IF NOT EXISTS client_refused (api TEXT PRIMARY KEY, requests BIGINT NOT NULL);

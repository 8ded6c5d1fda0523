-- The exam: where each client stands (the situations it has met, how often, and the request
-- that met each last), and the situation each logged request met.
CREATE TABLE IF NOT EXISTS client_exam (
    api TEXT NOT NULL, client TEXT NOT NULL, situation TEXT NOT NULL, hits INTEGER NOT NULL,
    fingerprint TEXT NOT NULL, PRIMARY KEY (api, client, situation));
ALTER TABLE client_requests ADD COLUMN exam TEXT;

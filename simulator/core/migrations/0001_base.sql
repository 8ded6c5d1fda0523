-- The store's tables (SQLite). Written so that it also applies to a database made before
-- migrations were numbered: every statement is IF NOT EXISTS.
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL, id TEXT NOT NULL, owner TEXT NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (kind, id));
CREATE INDEX IF NOT EXISTS objects_owner ON objects (kind, owner);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL, body TEXT NOT NULL, expires_at REAL NOT NULL,
    PRIMARY KEY (scope, key));
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, api TEXT NOT NULL,
    owner TEXT NOT NULL, kind TEXT NOT NULL, body TEXT NOT NULL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_owner ON events (api, owner, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY, api TEXT NOT NULL, owner TEXT NOT NULL, event_id TEXT NOT NULL,
    kind TEXT NOT NULL, url TEXT NOT NULL, headers TEXT NOT NULL, body TEXT NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at REAL,
    last_code INTEGER, last_latency_ms REAL, last_error TEXT, history TEXT NOT NULL,
    created_at REAL NOT NULL, endpoint_id TEXT);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_at);
CREATE TABLE IF NOT EXISTS timers (
    id INTEGER PRIMARY KEY AUTOINCREMENT, due_at REAL NOT NULL, api TEXT NOT NULL,
    action TEXT NOT NULL, obj_id TEXT NOT NULL, arg TEXT);
CREATE INDEX IF NOT EXISTS timers_due ON timers (due_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS client_requests (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, api TEXT NOT NULL, client TEXT NOT NULL,
    operation TEXT NOT NULL, method TEXT NOT NULL, url TEXT NOT NULL, headers TEXT NOT NULL,
    body TEXT NOT NULL, body_hash TEXT NOT NULL, idempotency_key TEXT, status INTEGER NOT NULL,
    retry_after REAL, error_code TEXT, error_message TEXT, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS client_requests_client ON client_requests (api, client, seq);

-- The answer each logged request got, so that a merchant's session can be exported as HAR and
-- replayed elsewhere: its body with secrets masked, cut at client_log.ANSWER_KEPT bytes (NULL:
-- none kept, such as an event stream's), its whole size in bytes (a kept body shorter than it
-- was cut), its Content-Type, whether a fault answered in the API's place, and how long the
-- request took, in seconds. The same SQL on both engines (DOUBLE PRECISION is REAL to SQLite).
ALTER TABLE client_requests ADD COLUMN answer TEXT;
ALTER TABLE client_requests ADD COLUMN answer_size BIGINT;
ALTER TABLE client_requests ADD COLUMN answer_type TEXT;
ALTER TABLE client_requests ADD COLUMN answer_fault INTEGER NOT NULL DEFAULT 0;
ALTER TABLE client_requests ADD COLUMN took DOUBLE PRECISION

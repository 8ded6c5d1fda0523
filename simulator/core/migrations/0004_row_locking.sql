-- Writes to different objects run side by side on PostgreSQL (0004_row_locking.postgresql.sql):
-- an event carries the id of the transaction that wrote it there. SQLite has one writer at a
-- time, so its events all carry 0 and their order is their seq.
ALTER TABLE events ADD COLUMN xid INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS events_cursor ON events (api, owner, xid, seq);
-- The due timers of one object run in due order: a timer is taken only as its object's first.
CREATE INDEX IF NOT EXISTS timers_object ON timers (obj_id, due_at, id);

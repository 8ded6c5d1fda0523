-- Writes to different objects run side by side (row locks, not one write lock), so events may
-- commit out of seq order. Each event carries its transaction's id; a reader takes only events
-- whose transaction is older than every transaction still running, in (xid, seq) order, and so
-- never passes over one that commits later.
ALTER TABLE events ADD COLUMN xid BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint);
CREATE INDEX IF NOT EXISTS events_cursor ON events (api, owner, xid, seq);
-- The due timers of one object run in due order: a timer is taken only as its object's first.
CREATE INDEX IF NOT EXISTS timers_object ON timers (obj_id, due_at, id);

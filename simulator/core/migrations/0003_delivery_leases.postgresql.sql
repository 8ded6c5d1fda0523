-- A delivery being sent is leased to the process sending it ("<start id>:<pid>") until a
-- wall-clock time; a lease that ran out, or whose process is gone, is taken back.
ALTER TABLE deliveries ADD COLUMN lease_until DOUBLE PRECISION;
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;

-- A delivery being sent is leased to the process sending it until a wall-clock time; a lease
-- that ran out (its process died) is taken back by any process of the store.
ALTER TABLE deliveries ADD COLUMN lease_until DOUBLE PRECISION;

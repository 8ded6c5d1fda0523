-- When a delivery became final (delivered, dead, or given up unsent): retention counts a final
-- delivery's age from then, so one given up stays in the delivery log for a retention age.
ALTER TABLE deliveries ADD COLUMN final_at REAL;

-- Client grading judges each request field by field, and (behind the proxy) the answer too.
ALTER TABLE client_requests ADD COLUMN problems TEXT NOT NULL DEFAULT '[]';
ALTER TABLE client_requests ADD COLUMN response_problems TEXT;

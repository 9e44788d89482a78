ALTER TABLE locks_audit DROP COLUMN /*M! IF EXISTS*/ evidenceJson;
DROP TABLE IF EXISTS locks_holders;

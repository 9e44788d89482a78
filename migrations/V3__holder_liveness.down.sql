DROP TABLE IF EXISTS locks_audit_evidence;
DROP TABLE IF EXISTS locks_holders;

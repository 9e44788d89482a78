DROP TABLE IF EXISTS locks_audit;

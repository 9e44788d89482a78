CREATE TABLE IF NOT EXISTS locks_holders(
    holder VARCHAR(255) NOT NULL,
    rowId VARCHAR(128) NOT NULL,
    lockName VARCHAR(255) NOT NULL,
    state VARCHAR(8) NOT NULL,
    since DATETIME(6) NOT NULL,
    host VARCHAR(255) NOT NULL,
    pid INT NOT NULL,
    pidStart BIGINT,
    bootId VARCHAR(64),
    started DATETIME(6),
    leaseMs INT,
    beat DATETIME(6) NOT NULL,
    fence BIGINT,
    unlessHeld TEXT,
    command TEXT,
    PRIMARY KEY (holder, rowId, lockName),
    KEY locks_holders_lock (rowId, lockName)
) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE TABLE IF NOT EXISTS locks_audit_evidence(
    opId CHAR(32) NOT NULL PRIMARY KEY,
    evidenceJson MEDIUMTEXT NOT NULL
) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;

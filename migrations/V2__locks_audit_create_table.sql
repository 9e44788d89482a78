CREATE TABLE IF NOT EXISTS locks_audit(
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    opId CHAR(32) NOT NULL UNIQUE,
    at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    dbUser VARCHAR(288) NOT NULL,
    osUser VARCHAR(255) NOT NULL,
    command TEXT NOT NULL,
    action VARCHAR(32) NOT NULL,
    rowId VARCHAR(128) NOT NULL,
    versionBefore INT,
    versionAfter INT,
    removedJson MEDIUMTEXT,
    replacedRaw MEDIUMTEXT,
    KEY locks_audit_row (rowId, id)
) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;

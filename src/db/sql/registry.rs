//! The statements on the holder registry (`locks_holders`, migration V3):
//! registering a holder, its heartbeat, forgetting it, reading it.

// ---- the holder registry (V3) --------------------------------------------

/// Registers a holder's interest in one lock (`state` `waits` while it
/// waits, then `holds`), or registers it anew: who it is (host, pid, the
/// process's start time in clock ticks since boot, the boot id, when it
/// started by its host's clock as `YYYY-MM-DD hh:mm:ss.ffffff` UTC), its
/// lease in milliseconds (NULL: judged by its process alone), the globs it
/// also waits on, and its command line. `since` and `beat` come from the
/// server's clock. Params: holder, row, lock, state, host, pid, pidStart,
/// bootId, started, leaseMs, unlessHeld, command.
pub const REGISTER: &str = "INSERT INTO locks_holders \
     (holder, rowId, lockName, state, since, host, pid, pidStart, bootId, started, leaseMs, \
      beat, fence, unlessHeld, command) \
     VALUES (?, ?, ?, ?, UTC_TIMESTAMP(6), ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), NULL, ?, ?) \
     ON DUPLICATE KEY UPDATE state = VALUES(state), since = VALUES(since), host = VALUES(host), \
       pid = VALUES(pid), pidStart = VALUES(pidStart), bootId = VALUES(bootId), \
       started = VALUES(started), leaseMs = VALUES(leaseMs), beat = VALUES(beat), fence = NULL, \
       unlessHeld = VALUES(unlessHeld), command = VALUES(command)";

/// The registered holder took the lock: it holds it from now, with this
/// fencing token. Params: fence, holder, row, lock.
pub const REGISTRY_HOLDS: &str = "UPDATE locks_holders \
     SET state = 'holds', since = UTC_TIMESTAMP(6), beat = UTC_TIMESTAMP(6), fence = ?, \
       unlessHeld = NULL \
     WHERE holder = ? AND rowId = ? AND lockName = ?";

/// A heartbeat: the holder is alive, by the server's clock. 0 rows: it is
/// not registered (any more). Params: holder, row, lock.
pub const REGISTRY_BEAT: &str = "UPDATE locks_holders SET beat = UTC_TIMESTAMP(6) \
     WHERE holder = ? AND rowId = ? AND lockName = ?";

/// Forget a holder's interest in one lock. Params: holder, row, lock.
pub const REGISTRY_FORGET: &str =
    "DELETE FROM locks_holders WHERE holder = ? AND rowId = ? AND lockName = ?";

/// The columns of a registration, times as microseconds since the epoch
/// (UTC: the table holds UTC times, and `TIMESTAMPDIFF` from the epoch does
/// not go through the session's time zone), and the server's clock now.
macro_rules! registration_columns {
    () => {
        "SELECT holder, rowId, lockName, state, \
           TIMESTAMPDIFF(MICROSECOND, '1970-01-01', since), host, pid, pidStart, bootId, \
           TIMESTAMPDIFF(MICROSECOND, '1970-01-01', started), leaseMs, \
           TIMESTAMPDIFF(MICROSECOND, '1970-01-01', beat), fence, unlessHeld, command, \
           TIMESTAMPDIFF(MICROSECOND, '1970-01-01', UTC_TIMESTAMP(6)) \
         FROM locks_holders "
    };
}

/// Every registration, by row, lock and holder.
pub const SELECT_REGISTRY: &str =
    concat!(registration_columns!(), "ORDER BY rowId, lockName, holder");

/// The registrations of one row. Param: the row.
pub const SELECT_REGISTRY_ROW: &str = concat!(
    registration_columns!(),
    "WHERE rowId = ? ORDER BY lockName, holder"
);

/// The registrations of one row, locked until the transaction ends (a
/// heartbeat of one of them waits, or on a cluster loses certification),
/// so that the evidence an operator's release of dead holders rests on
/// cannot change under it. Param: the row.
pub const SELECT_REGISTRY_ROW_LOCKED: &str = concat!(
    registration_columns!(),
    "WHERE rowId = ? ORDER BY lockName, holder FOR UPDATE"
);

//! The run lock that makes racing deployers safe: a server-side named lock
//! (`GET_LOCK`) held by the one connection that also applies the
//! migrations, so concurrent runs queue up and each migration is applied
//! exactly once.

use crate::db::{sql, Lease};
use crate::error::{Kind, Result};
use std::time::{Duration, Instant};

/// The named server lock that serialises migration runs on one database.
/// It belongs to the connection that took it, which is also the connection
/// that applies the migrations.
pub(crate) struct RunLock {
    name: String,
}

impl RunLock {
    /// Takes the lock of database `db`, waiting up to `timeout`. It asks
    /// the server for at most a second at a time, so that no statement
    /// outlives the per-statement limit.
    pub(crate) async fn acquire(c: &mut Lease, db: &str, timeout: Duration) -> Result<RunLock> {
        let name = run_lock_name(db);
        let until = Instant::now() + timeout;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            let secs = left.as_secs().min(1);
            let got = c
                .exec_number(&sql::get_lock(&name, secs), (), "GET_LOCK")
                .await?;
            if got == Some(1) {
                return Ok(RunLock { name });
            }
            if left.is_zero() || secs == 0 {
                return Err(Kind::MigrationLockTimeout {
                    lock: name,
                    seconds: timeout.as_secs(),
                }
                .into());
            }
        }
    }

    /// Lets go of it. Closing the connection would free it too.
    pub(crate) async fn release(self, c: &mut Lease) {
        let _ = c.query_drop(&sql::release_lock(&self.name)).await;
    }
}

/// `GET_LOCK` names are server-wide and at most 64 characters.
fn run_lock_name(db: &str) -> String {
    let name = format!("locksmith.migrate.{db}");
    if name.len() <= 64 {
        return name;
    }
    // FNV-1a: stable across builds, unlike std's hasher.
    let hash = db.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    });
    let mut short: String = db.chars().take(20).collect();
    short.push('.');
    format!("locksmith.migrate.{short}{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_lock_names_fit_mysql_limit() {
        assert_eq!(run_lock_name("app"), "locksmith.migrate.app");
        let long = "d".repeat(64);
        let n = run_lock_name(&long);
        assert!(n.len() <= 64, "{n}");
        assert_ne!(n, run_lock_name(&"e".repeat(64)));
    }
}

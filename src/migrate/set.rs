//! A set of migrations: the ones embedded in the binary or the ones read
//! from a `--source` directory, each with its down step.
//!
//! The embedded ones are `migrations/`, checked and listed by `build.rs`
//! with the rules a `--source` directory is checked with
//! (`naming`): the directory is the one place the list is
//! written, and a file breaking a rule fails the build.
//!
//! Each migration's version, name and checksum (refinery's) are known
//! without refinery's own parsing, whose regular expression costs a no-op
//! `migrate up` more than its queries; refinery's `Migration`s are made
//! only when a run applies something (`MigrationSet::refinery`).

use super::source;
use crate::db::DEFAULT_TIMEOUT;
use crate::error::{Kind, Result};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One migration of `migrations/`, as `build.rs` lists it.
struct Embedded {
    version: i32,
    name: &'static str,
    up: &'static str,
    down: &'static str,
}

/// Every migration of `migrations/`, oldest first (written by `build.rs`).
const EMBEDDED: &[Embedded] = include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// One up migration: `V<version>__<name>`, its SQL, and the checksum
/// refinery records for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned {
    version: i32,
    name: String,
    sql: String,
    checksum: u64,
}

impl Versioned {
    /// Migration `V<version>__<name>`, with its SQL.
    fn new(version: i32, name: String, sql: String) -> Versioned {
        // refinery's checksum: SipHasher13 over name, version and SQL, as
        // refinery-core's `Migration::unapplied` computes it (a unit test
        // compares them).
        let mut h = siphasher::sip::SipHasher13::new();
        name.hash(&mut h);
        version.hash(&mut h);
        sql.hash(&mut h);
        Versioned {
            version,
            checksum: h.finish(),
            name,
            sql,
        }
    }

    /// Its version.
    pub fn version(&self) -> i32 {
        self.version
    }

    /// Its name, without the `V<n>__` prefix.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Refinery's checksum of it.
    pub fn checksum(&self) -> u64 {
        self.checksum
    }

    /// Its SQL.
    pub fn sql(&self) -> Option<&str> {
        Some(&self.sql)
    }
}

impl std::fmt::Display for Versioned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "V{}__{}", self.version, self.name)
    }
}

/// A set of up migrations with their down steps.
#[derive(Debug)]
pub struct MigrationSet {
    ups: Vec<Versioned>,
    downs: BTreeMap<i32, String>,
    /// Refinery's migrations, made when first needed.
    refinery: OnceLock<Vec<refinery::Migration>>,
}

impl Clone for MigrationSet {
    fn clone(&self) -> MigrationSet {
        MigrationSet::new(self.ups.clone(), self.downs.clone())
    }
}

impl MigrationSet {
    /// The migrations compiled into this binary: every one of
    /// `migrations/`.
    pub fn embedded() -> MigrationSet {
        let ups = EMBEDDED
            .iter()
            .map(|m| Versioned::new(m.version, m.name.to_string(), m.up.to_string()))
            .collect();
        let downs = EMBEDDED
            .iter()
            .map(|m| (m.version, m.down.to_string()))
            .collect();
        MigrationSet::new(ups, downs)
    }

    /// Migrations read from a directory, within [`DEFAULT_TIMEOUT`]; see
    /// [`MigrationSet::from_dir_within`].
    pub fn from_dir(dir: &Path) -> Result<MigrationSet> {
        MigrationSet::from_dir_within(dir, DEFAULT_TIMEOUT)
    }

    /// Migrations read from a directory: `V<n>__<name>.sql` up files, each
    /// with its `V<n>__<name>.down.sql` down step beside it (the layout of
    /// `migrations/`). The directory is checked first: a file refinery
    /// would skip or misread, a version used twice, a missing or orphaned
    /// down step are errors naming the file, before anything connects.
    /// Every directory and file is read within `timeout`: a FIFO nobody
    /// writes to, or a file system that does not answer, is an error
    /// naming the file when it runs out.
    pub fn from_dir_within(dir: &Path, timeout: Duration) -> Result<MigrationSet> {
        let read = source::read(dir, Instant::now() + timeout)?;
        let mut ups = Vec::new();
        let mut downs = BTreeMap::new();
        for m in read {
            downs.insert(m.version, m.down);
            ups.push(Versioned::new(m.version, m.name, m.up));
        }
        Ok(MigrationSet::new(ups, downs))
    }

    fn new(mut ups: Vec<Versioned>, downs: BTreeMap<i32, String>) -> MigrationSet {
        ups.sort_by_key(|m| m.version);
        MigrationSet {
            ups,
            downs,
            refinery: OnceLock::new(),
        }
    }

    /// The up migrations, oldest first.
    pub fn migrations(&self) -> &[Versioned] {
        &self.ups
    }

    /// The same migrations as refinery's runner takes them.
    pub(crate) fn refinery(&self) -> Result<&[refinery::Migration]> {
        if let Some(m) = self.refinery.get() {
            return Ok(m);
        }
        let made = self
            .ups
            .iter()
            .map(|m| {
                refinery::Migration::unapplied(&m.to_string(), &m.sql).map_err(|e| {
                    crate::Error::from(Kind::Internal(format!("refinery refuses {m}: {e}")))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(self.refinery.get_or_init(|| made))
    }

    /// The down step of a version, if there is one.
    pub fn down_sql(&self, version: i32) -> Option<&str> {
        self.downs.get(&version).map(String::as_str)
    }

    pub(crate) fn find(&self, version: i32) -> Option<&Versioned> {
        self.ups.iter().find(|m| m.version() == version)
    }
}

/// A migration that was run or is planned, with the SQL it runs.
#[derive(Clone, Debug)]
pub struct Planned {
    /// `V<n>__<name>`.
    pub label: String,
    /// Its version.
    pub version: i32,
    /// The SQL it runs.
    pub sql: String,
}

impl Planned {
    /// The up step of `m`.
    pub(crate) fn up(m: &Versioned) -> Planned {
        Planned {
            label: m.to_string(),
            version: m.version(),
            sql: m.sql().unwrap_or_default().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_migration_has_a_down_step() {
        let set = MigrationSet::embedded();
        assert!(!set.migrations().is_empty());
        for m in set.migrations() {
            let down = set.down_sql(m.version());
            assert!(
                down.is_some_and(|s| !s.trim().is_empty()),
                "{m} has no down step in migrations/"
            );
        }
        assert_eq!(
            set.downs.keys().copied().collect::<Vec<_>>(),
            set.migrations()
                .iter()
                .map(|m| m.version())
                .collect::<Vec<_>>(),
            "a down step without its up migration"
        );
    }

    /// The embedded set is what refinery itself reads from `migrations/`
    /// (it passes over the `.down.sql` files, whose names its pattern does
    /// not match), checksums included: history rows refinery or an older
    /// locksmith wrote still match.
    #[test]
    fn the_embedded_set_is_what_refinery_reads_from_migrations_with_its_checksums() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let theirs = refinery_core::load_sql_migrations(&dir).unwrap();
        let ours = MigrationSet::embedded();
        assert_eq!(ours.migrations().len(), theirs.len());
        for (a, b) in ours.migrations().iter().zip(&theirs) {
            assert_eq!(
                (a.version(), a.name(), a.checksum(), a.sql()),
                (b.version(), b.name(), b.checksum(), b.sql())
            );
        }
        let made = ours.refinery().unwrap();
        assert_eq!(
            made.iter().map(|m| m.checksum()).collect::<Vec<_>>(),
            theirs.iter().map(|m| m.checksum()).collect::<Vec<_>>()
        );
        for m in ours.migrations() {
            let unapplied = refinery::Migration::unapplied(&m.to_string(), m.sql().unwrap());
            assert_eq!(unapplied.unwrap().checksum(), m.checksum(), "{m}");
        }
    }

    /// What every installed locksmith has recorded for the embedded
    /// migrations: a change to one of these files (a line ending, a
    /// trailing space) would make every database that applied it
    /// `divergent`.
    const V1_CHECKSUM: u64 = 6680901613824824128;
    const V2_CHECKSUM: u64 = 9785896271084273686;
    const V3_CHECKSUM: u64 = 9686256073894253181;

    #[test]
    fn the_embedded_checksums_never_change() {
        let set = MigrationSet::embedded();
        let got: Vec<(String, u64)> = set
            .migrations()
            .iter()
            .map(|m| (m.to_string(), m.checksum()))
            .collect();
        assert_eq!(
            got,
            [
                ("V1__locks_create_table".to_string(), V1_CHECKSUM),
                ("V2__locks_audit_create_table".to_string(), V2_CHECKSUM),
                ("V3__holder_liveness".to_string(), V3_CHECKSUM),
            ]
        );
    }

    #[test]
    fn a_source_directory_is_read_like_migrations() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let read = MigrationSet::from_dir(&dir).unwrap();
        let embedded = MigrationSet::embedded();
        assert_eq!(read.migrations(), embedded.migrations());
        assert_eq!(read.downs, embedded.downs);
    }

    #[test]
    fn v1_is_the_seed_ddl() {
        let set = MigrationSet::embedded();
        let v1 = &set.migrations()[0];
        assert_eq!(v1.to_string(), "V1__locks_create_table");
        let sql = v1.sql().unwrap();
        for part in [
            "CREATE TABLE IF NOT EXISTS locks(",
            "id VARCHAR(128) NOT NULL UNIQUE",
            "dataJson TEXT",
            "version INT DEFAULT 1",
            "ts TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP",
            "CHARACTER SET utf8 COLLATE utf8_bin",
        ] {
            assert!(sql.contains(part), "V1 lacks `{part}`");
        }
    }
}

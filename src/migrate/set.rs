//! A set of migrations: the ones embedded in the binary (through refinery)
//! or the ones read from a `--source` directory, each with its down step.

use crate::db::sql;
use crate::error::{Kind, Result};
use refinery::Migration;
use std::collections::BTreeMap;
use std::path::Path;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// A set of up migrations with their down steps.
#[derive(Clone, Debug)]
pub struct MigrationSet {
    ups: Vec<Migration>,
    downs: BTreeMap<i32, String>,
}

impl MigrationSet {
    /// The migrations compiled into this binary.
    pub fn embedded() -> MigrationSet {
        let ups = embedded::migrations::runner().get_migrations().clone();
        let downs = ups
            .iter()
            .filter_map(|m| {
                let stem = m.to_string();
                sql::DOWN_STEPS
                    .iter()
                    .find(|(s, _)| *s == stem)
                    .map(|(_, sql)| (m.version(), sql.to_string()))
            })
            .collect();
        MigrationSet::new(ups, downs)
    }

    /// Migrations read from a directory: `V<n>__<name>.sql` up files, each
    /// with its `V<n>__<name>.down.sql` down step beside it.
    pub fn from_dir(dir: &Path) -> Result<MigrationSet> {
        let ups = refinery::load_sql_migrations(dir).map_err(|e| {
            Kind::Io(format!(
                "cannot read migrations from {}: {e}",
                dir.display()
            ))
        })?;
        let mut downs = BTreeMap::new();
        for m in &ups {
            let path = dir.join(format!("{m}.down.sql"));
            if let Ok(text) = std::fs::read_to_string(&path) {
                downs.insert(m.version(), text);
            }
        }
        Ok(MigrationSet::new(ups, downs))
    }

    fn new(mut ups: Vec<Migration>, downs: BTreeMap<i32, String>) -> MigrationSet {
        ups.sort();
        MigrationSet { ups, downs }
    }

    /// The up migrations, oldest first.
    pub fn migrations(&self) -> &[Migration] {
        &self.ups
    }

    /// The down step of a version, if there is one.
    pub fn down_sql(&self, version: i32) -> Option<&str> {
        self.downs.get(&version).map(String::as_str)
    }

    pub(crate) fn find(&self, version: i32) -> Option<&Migration> {
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
    pub(crate) fn up(m: &Migration) -> Planned {
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
                "{m} has no down step in sql/"
            );
        }
        assert_eq!(
            sql::DOWN_STEPS.len(),
            set.migrations().len(),
            "a down step without its up migration"
        );
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

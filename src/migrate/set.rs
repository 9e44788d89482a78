//! A set of migrations: the ones embedded in the binary (through refinery)
//! or the ones read from a `--source` directory, each with its down step.
//!
//! Each migration's version, name and checksum (refinery's) are known
//! without refinery's own parsing, whose regular expression costs a no-op
//! `migrate up` more than its queries; refinery's `Migration`s are made
//! only when a run applies something (`MigrationSet::refinery`).

use crate::db::sql;
use crate::error::{Kind, Result};
use crate::shown::shown;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod embedded {
    refinery::embed_migrations!("migrations");
}

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
    /// The migration named `label` (`V<n>__<name>`), with its SQL.
    fn new(label: &str, sql: &str) -> Result<Versioned> {
        let (version, name) = parse_stem(label)
            .map_err(|why| Kind::Internal(format!("embedded migration {label}: {why}")))?;
        // refinery's checksum: SipHasher13 over name, version and SQL, as
        // refinery-core's `Migration::unapplied` computes it (a unit test
        // compares them).
        let mut h = siphasher::sip::SipHasher13::new();
        name.hash(&mut h);
        version.hash(&mut h);
        sql.hash(&mut h);
        Ok(Versioned {
            version,
            checksum: h.finish(),
            name,
            sql: sql.to_string(),
        })
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
    /// The migrations compiled into this binary.
    pub fn embedded() -> MigrationSet {
        let ups = sql::UP_STEPS
            .iter()
            .filter_map(|(label, sql)| Versioned::new(label, sql).ok())
            .collect::<Vec<_>>();
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

    /// What refinery itself embeds (its `embed_migrations!`), for a check
    /// that [`MigrationSet::embedded`] is the same set.
    pub fn embedded_by_refinery() -> Vec<refinery::Migration> {
        embedded::migrations::runner().get_migrations().clone()
    }

    /// Migrations read from a directory: `V<n>__<name>.sql` up files, each
    /// with its `V<n>__<name>.down.sql` down step beside it. The directory
    /// is checked first (see [`scan`]): a file refinery would skip or
    /// misread, a version used twice, a missing down step are errors
    /// naming the file, before anything connects.
    pub fn from_dir(dir: &Path) -> Result<MigrationSet> {
        let found = scan(dir)?;
        let mut ups = Vec::new();
        let mut downs = BTreeMap::new();
        for (version, files) in &found {
            let read = |p: &Path| {
                std::fs::read_to_string(p).map_err(|e| {
                    Kind::Io(format!(
                        "cannot read {}: {e}",
                        shown(&p.display().to_string())
                    ))
                })
            };
            let stem = files
                .up
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            ups.push(Versioned::new(stem, &read(&files.up)?)?);
            downs.insert(*version, read(&files.down)?);
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

/// The files of one migration in a `--source` directory.
#[derive(Debug)]
pub struct Files {
    /// `V<n>__<name>.sql`.
    pub up: PathBuf,
    /// `V<n>__<name>.down.sql`.
    pub down: PathBuf,
}

/// Checks a `--source` directory the way refinery will read it (every
/// file below it, sub-directories included), and returns each version's
/// files. Every file whose name ends in `.sql` must be an up migration or
/// its down step; anything else is an error naming the file, so that a
/// misnamed migration is never skipped in silence.
pub fn scan(dir: &Path) -> Result<BTreeMap<i32, Files>> {
    let at = |p: &Path| shown(&p.display().to_string()).to_string();
    match std::fs::metadata(dir) {
        Err(e) => {
            return Err(Kind::Invalid(format!("--source {}: {e}", at(dir))).into());
        }
        Ok(m) if !m.is_dir() => {
            return Err(Kind::Invalid(format!(
                "--source {} is not a directory (it takes the directory holding V1__name.sql files)",
                at(dir)
            ))
            .into());
        }
        Ok(_) => {}
    }
    let mut ups: BTreeMap<i32, PathBuf> = BTreeMap::new();
    let mut downs: BTreeMap<i32, PathBuf> = BTreeMap::new();
    let mut names: BTreeMap<i32, String> = BTreeMap::new();
    let mut files: Vec<(bool, PathBuf, String)> = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| Kind::Io(format!("cannot read {}: {e}", at(dir))))?;
        if entry.file_type().is_dir() {
            continue;
        }
        let path = entry.path();
        let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
            if path
                .to_string_lossy()
                .to_ascii_lowercase()
                .ends_with(".sql")
            {
                return Err(bad_name(path, "its name is not valid UTF-8"));
            }
            continue;
        };
        if !file.to_ascii_lowercase().ends_with(".sql") {
            continue;
        }
        if !file.ends_with(".sql") {
            return Err(bad_name(
                path,
                "the extension must be `.sql`, in lower case",
            ));
        }
        files.push((
            file.ends_with(".down.sql"),
            path.to_path_buf(),
            file.to_string(),
        ));
    }
    // Up migrations first, so that a clash is reported on an up file.
    files.sort();
    for (down, path, file) in &files {
        let (path, down) = (path.as_path(), *down);
        let stem = match file.strip_suffix(".down.sql") {
            Some(stem) => stem,
            None => file.strip_suffix(".sql").unwrap_or(file),
        };
        let (version, name) = parse_stem(stem).map_err(|why| bad_name(path, why))?;
        if let Some(known) = names.get(&version).filter(|n| **n != name) {
            let other = ups
                .get(&version)
                .or(downs.get(&version))
                .map(|p| at(p))
                .unwrap_or_default();
            return Err(bad_name(
                path,
                &format!("version {version} is also used by {other} (`{known}`); each version must be used once"),
            ));
        }
        names.insert(version, name);
        let slot = if down { &mut downs } else { &mut ups };
        if let Some(first) = slot.insert(version, path.to_path_buf()) {
            return Err(bad_name(
                path,
                &format!("version {version} is also used by {}", at(&first)),
            ));
        }
    }
    if ups.is_empty() {
        return Err(Kind::Invalid(format!(
            "--source {} holds no migrations (files like V1__create_things.sql, each with V1__create_things.down.sql beside it)",
            at(dir)
        ))
        .into());
    }
    if let Some((_, path)) = downs.iter().find(|(v, _)| !ups.contains_key(v)) {
        return Err(bad_name(path, "it is a down step without its up migration"));
    }
    let mut out = BTreeMap::new();
    for (version, up) in ups {
        let Some(down) = downs.remove(&version) else {
            let want = up.with_file_name(format!(
                "{}.down.sql",
                up.file_stem().and_then(|s| s.to_str()).unwrap_or_default()
            ));
            return Err(bad_name(
                &up,
                &format!("it has no down step (expected {} beside it)", at(&want)),
            ));
        };
        out.insert(version, Files { up, down });
    }
    Ok(out)
}

/// `V<n>__<name>` → (n, name), or why refinery would skip or misread it.
fn parse_stem(stem: &str) -> std::result::Result<(i32, String), &'static str> {
    let Some(rest) = stem.strip_prefix('V') else {
        return Err(match stem.chars().next() {
            Some('v') => "the prefix must be a capital V (refinery skips `v`)",
            Some('U') => "unversioned (U) migrations are not supported; use V<version>__<name>.sql",
            _ => "a migration's name is V<version>__<name>.sql",
        });
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    if digits == 0 {
        return Err("the V must be followed by the version number (V1__name.sql)");
    }
    let (number, rest) = rest.split_at(digits);
    let Some(name) = rest.strip_prefix("__") else {
        return Err(if rest.starts_with('.') {
            "versions must be whole numbers"
        } else {
            "the version and the name must be separated by two underscores (V1__name.sql)"
        });
    };
    if name.is_empty() {
        return Err("the name after `__` is empty");
    }
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err("the name may hold only ASCII letters, digits and underscores");
    }
    let version = number
        .parse::<i32>()
        .map_err(|_| "the version is too large (at most 2147483647)")?;
    Ok((version, name.to_string()))
}

fn bad_name(path: &Path, why: &str) -> crate::Error {
    Kind::Invalid(format!(
        "{}: {why}; nothing was run",
        shown(&path.display().to_string())
    ))
    .into()
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
    fn names_refinery_would_skip_or_misread_are_refused() {
        assert_eq!(parse_stem("V12__add_index"), Ok((12, "add_index".into())));
        for (stem, why) in [
            ("V1_bad", "two underscores"),
            ("v2__x", "capital V"),
            ("U3__x", "unversioned"),
            ("V5__a-b", "only ASCII letters"),
            ("V1.5__x", "whole numbers"),
            ("V__x", "version number"),
            ("V1__", "empty"),
            ("V99999999999__x", "too large"),
            ("init", "V<version>__<name>"),
        ] {
            let e = parse_stem(stem).unwrap_err();
            assert!(e.contains(why), "{stem}: {e}");
        }
    }

    #[test]
    fn the_embedded_set_is_what_refinery_embeds_with_its_checksums() {
        let ours = MigrationSet::embedded();
        let theirs = MigrationSet::embedded_by_refinery();
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

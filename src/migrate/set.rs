//! A set of migrations: the ones embedded in the binary (through refinery)
//! or the ones read from a `--source` directory, each with its down step.

use crate::db::sql;
use crate::error::{Kind, Result};
use crate::shown::shown;
use refinery::Migration;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

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
    /// with its `V<n>__<name>.down.sql` down step beside it. The directory
    /// is checked first (see [`scan`]): a file refinery would skip or
    /// misread, a version used twice, a missing down step are errors
    /// naming the file, before anything connects.
    pub fn from_dir(dir: &Path) -> Result<MigrationSet> {
        let found = scan(dir)?;
        let ups = refinery::load_sql_migrations(dir).map_err(|e| {
            Kind::Io(format!(
                "cannot read migrations from {}: {e}",
                shown(&dir.display().to_string())
            ))
        })?;
        if ups.len() != found.len() {
            return Err(Kind::Invalid(format!(
                "refinery finds {} migrations in {}, locksmith {}; nothing was run",
                ups.len(),
                shown(&dir.display().to_string()),
                found.len()
            ))
            .into());
        }
        let mut downs = BTreeMap::new();
        for (version, files) in &found {
            let text = std::fs::read_to_string(&files.down).map_err(|e| {
                Kind::Io(format!(
                    "cannot read {}: {e}",
                    shown(&files.down.display().to_string())
                ))
            })?;
            downs.insert(*version, text);
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

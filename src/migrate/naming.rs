//! The naming rules of a migrations directory, in one place for the two
//! readers of such a directory: `build.rs`, which embeds `migrations/` into
//! the binary (and fails the build on a file that breaks a rule), and
//! `--source DIR` at run time (which refuses the directory, naming the
//! file). Both checking with the same function is what makes the embedded
//! set and a `--source` directory the same layout.
//!
//! A directory holds `V<n>__<name>.sql` up migrations, each with its
//! `V<n>__<name>.down.sql` down step beside it (sub-directories included).
//! Every file whose name ends in `.sql` must be one of those; a name
//! refinery would skip or misread, a version used twice, a down step
//! without its up migration or an up migration without its down step is
//! an error naming the file, never skipped in silence.
//!
//! Pure and `std`-only (the build script includes this file with
//! `#[path]`): it is given the paths of the files found, and reads nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One migration of a directory: its version, name and files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    /// `n` of `V<n>__<name>`.
    pub version: i32,
    /// `name` of `V<n>__<name>`.
    pub name: String,
    /// `V<n>__<name>.sql`.
    pub up: PathBuf,
    /// `V<n>__<name>.down.sql`.
    pub down: PathBuf,
}

/// Why a directory's files are not a set of migrations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// No up migration.
    Empty,
    /// The file at `path` breaks a rule.
    File {
        /// The file.
        path: PathBuf,
        /// The rule it breaks.
        why: Why,
    },
}

/// The rule a file breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Why {
    /// Its name is not one refinery reads as it is meant.
    Name(&'static str),
    /// Its version is that of another migration, `other` (named `known`).
    Clash {
        version: i32,
        other: PathBuf,
        known: String,
    },
    /// Its version and name are those of file `first` too.
    Twice { version: i32, first: PathBuf },
    /// A down step whose up migration is not there.
    Orphan,
    /// An up migration without its down step, expected at `want`.
    NoDown { want: PathBuf },
}

impl Why {
    /// What is wrong, in words; `at` shows a path.
    pub fn describe(&self, at: &dyn Fn(&Path) -> String) -> String {
        match self {
            Why::Name(why) => (*why).to_string(),
            Why::Clash {
                version,
                other,
                known,
            } => format!(
                "version {version} is also used by {} (`{known}`); each version must be used once",
                at(other)
            ),
            Why::Twice { version, first } => {
                format!("version {version} is also used by {}", at(first))
            }
            Why::Orphan => "it is a down step without its up migration".to_string(),
            Why::NoDown { want } => {
                format!("it has no down step (expected {} beside it)", at(want))
            }
        }
    }
}

/// Checks the files found in a directory (every file below it, not its
/// directories) and returns its migrations, oldest first. Files whose
/// names do not end in `.sql` (in any case) are not migrations and are
/// passed over.
pub fn check(files: impl IntoIterator<Item = PathBuf>) -> Result<Vec<Pair>, Problem> {
    let bad = |path: &Path, why: Why| Problem::File {
        path: path.to_path_buf(),
        why,
    };
    let mut sql: Vec<(bool, PathBuf, String)> = Vec::new();
    for path in files {
        let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
            if path
                .to_string_lossy()
                .to_ascii_lowercase()
                .ends_with(".sql")
            {
                return Err(bad(&path, Why::Name("its name is not valid UTF-8")));
            }
            continue;
        };
        if !file.to_ascii_lowercase().ends_with(".sql") {
            continue;
        }
        if !file.ends_with(".sql") {
            return Err(bad(
                &path,
                Why::Name("the extension must be `.sql`, in lower case"),
            ));
        }
        let file = file.to_string();
        sql.push((file.ends_with(".down.sql"), path, file));
    }
    // Up migrations first, so that a clash is reported on an up file.
    sql.sort();
    let mut ups: BTreeMap<i32, PathBuf> = BTreeMap::new();
    let mut downs: BTreeMap<i32, PathBuf> = BTreeMap::new();
    let mut names: BTreeMap<i32, String> = BTreeMap::new();
    for (down, path, file) in &sql {
        let stem = match file.strip_suffix(".down.sql") {
            Some(stem) => stem,
            None => file.strip_suffix(".sql").unwrap_or(file),
        };
        let (version, name) = parse_stem(stem).map_err(|why| bad(path, Why::Name(why)))?;
        if let Some(known) = names.get(&version).filter(|n| **n != name) {
            let other = ups.get(&version).or(downs.get(&version)).cloned();
            return Err(bad(
                path,
                Why::Clash {
                    version,
                    other: other.unwrap_or_default(),
                    known: known.clone(),
                },
            ));
        }
        names.insert(version, name);
        let slot = if *down { &mut downs } else { &mut ups };
        if let Some(first) = slot.insert(version, path.clone()) {
            return Err(bad(path, Why::Twice { version, first }));
        }
    }
    if ups.is_empty() {
        return Err(Problem::Empty);
    }
    if let Some((_, path)) = downs.iter().find(|(v, _)| !ups.contains_key(v)) {
        return Err(bad(path, Why::Orphan));
    }
    let mut out = Vec::new();
    for (version, up) in ups {
        let Some(down) = downs.remove(&version) else {
            let stem = up.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
            let want = up.with_file_name(format!("{stem}.down.sql"));
            return Err(bad(&up, Why::NoDown { want }));
        };
        let name = names.remove(&version).unwrap_or_default();
        out.push(Pair {
            version,
            name,
            up,
            down,
        });
    }
    Ok(out)
}

/// `V<n>__<name>` → (n, name), or why refinery would skip or misread it.
pub fn parse_stem(stem: &str) -> Result<(i32, String), &'static str> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refinery_would_skip_or_misread_are_refused() {
        assert_eq!(parse_stem("V12__add_index"), Ok((12, "add_index".into())));
        for (stem, why) in [
            ("V1_bad", "two underscores"),
            ("v2__x", "capital V"),
            ("U3__x", "unversioned"),
            ("V5__a-b", "only ASCII letters"),
            ("V5__a.b", "only ASCII letters"),
            ("V1.5__x", "whole numbers"),
            ("V__x", "version number"),
            ("V1__", "empty"),
            ("V99999999999__x", "too large"),
            ("init", "V<version>__<name>"),
            ("", "V<version>__<name>"),
        ] {
            let e = parse_stem(stem).unwrap_err();
            assert!(e.contains(why), "{stem}: {e}");
        }
    }

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(|n| PathBuf::from("d").join(n)).collect()
    }

    fn said(p: &Problem) -> String {
        match p {
            Problem::Empty => "empty".into(),
            Problem::File { path, why } => {
                format!(
                    "{}: {}",
                    path.display(),
                    why.describe(&|p| p.display().to_string())
                )
            }
        }
    }

    #[test]
    fn a_directory_that_is_not_a_set_of_migrations_names_the_file() {
        for (files, says) in [
            (&[][..], "empty"),
            (&["README.md", "notes.txt"][..], "empty"),
            (
                &["V1_bad.sql", "V1_bad.down.sql"][..],
                "d/V1_bad.sql: the version and the name must be separated by two underscores (V1__name.sql)",
            ),
            (
                &["V1__a.sql", "V1__a.down.sql", "v2__x.sql"][..],
                "d/v2__x.sql: the prefix must be a capital V (refinery skips `v`)",
            ),
            (
                &["V3__x.SQL", "V3__x.down.sql"][..],
                "d/V3__x.SQL: the extension must be `.sql`, in lower case",
            ),
            (
                &["V1__a.sql", "V1__a.down.sql", "V1__b.sql", "V1__b.down.sql"][..],
                "d/V1__b.sql: version 1 is also used by d/V1__a.sql (`a`); each version must be used once",
            ),
            (
                &["V1__a.sql", "V1__a.down.sql", "sub/V1__a.sql"][..],
                "d/sub/V1__a.sql: version 1 is also used by d/V1__a.sql",
            ),
            (
                &["V1__a.sql", "V1__a.down.sql", "V1__b.down.sql"][..],
                "d/V1__b.down.sql: version 1 is also used by d/V1__a.sql (`a`); each version must be used once",
            ),
            (
                &["V1__a.sql", "V1__a.down.sql", "V2__b.down.sql"][..],
                "d/V2__b.down.sql: it is a down step without its up migration",
            ),
            (&["V2__b.down.sql"][..], "empty"),
            (
                &["V1__a.sql"][..],
                "d/V1__a.sql: it has no down step (expected d/V1__a.down.sql beside it)",
            ),
            (
                &["V1__a.sql", "V1__a.down.sql", "V2__b.sql", "V2__b.Down.sql"][..],
                "d/V2__b.Down.sql: the name may hold only ASCII letters, digits and underscores",
            ),
        ] {
            let got = check(paths(files)).unwrap_err();
            assert_eq!(said(&got), says, "{files:?}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_file_name_that_is_not_utf8_is_refused_when_it_looks_like_sql() {
        use std::os::unix::ffi::OsStrExt;
        let odd = PathBuf::from(std::ffi::OsStr::from_bytes(b"d/V1__\xff.sql"));
        let got = check([odd.clone()]).unwrap_err();
        assert_eq!(
            got,
            Problem::File {
                path: odd,
                why: Why::Name("its name is not valid UTF-8")
            }
        );
        let other = PathBuf::from(std::ffi::OsStr::from_bytes(b"d/\xff.txt"));
        assert_eq!(check([other]), Err(Problem::Empty));
    }

    #[test]
    fn a_good_directory_gives_each_migration_oldest_first() {
        let got = check(paths(&[
            "V10__c.down.sql",
            "V10__c.sql",
            "README.md",
            "V2__b.sql",
            "sub/V2__b.down.sql",
            "V1__a.sql",
            "V1__a.down.sql",
        ]))
        .unwrap();
        let d = |n: &str| PathBuf::from("d").join(n);
        assert_eq!(
            got,
            vec![
                Pair {
                    version: 1,
                    name: "a".into(),
                    up: d("V1__a.sql"),
                    down: d("V1__a.down.sql")
                },
                Pair {
                    version: 2,
                    name: "b".into(),
                    up: d("V2__b.sql"),
                    down: d("sub/V2__b.down.sql")
                },
                Pair {
                    version: 10,
                    name: "c".into(),
                    up: d("V10__c.sql"),
                    down: d("V10__c.down.sql")
                },
            ]
        );
    }
}

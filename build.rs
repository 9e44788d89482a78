//! Embeds `migrations/` into locksmith, so that the directory is the one
//! place the migration list is written. It checks the directory with the
//! rules `--source DIR` is checked with at run time (src/migrate/naming.rs,
//! the same file, included here), and writes `$OUT_DIR/migrations.rs`: each
//! migration's version and name, and its up and down SQL through
//! `include_str!`, which src/migrate/set.rs includes. A file that breaks a
//! rule (a malformed name, a missing or orphaned down step, a version used
//! twice) or is not UTF-8 fails the build, naming the file: nothing in
//! `migrations/` is ever left out in silence.

#[path = "src/migrate/naming.rs"]
#[allow(dead_code)]
mod naming;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The directory embedded, relative to the package (a build script runs
/// there).
const DIR: &str = "migrations";

fn main() {
    println!("cargo::rerun-if-changed={DIR}");
    println!("cargo::rerun-if-changed=src/migrate/naming.rs");
    if let Err(why) = embed() {
        // One line: cargo shows it as `error: …` and fails the build.
        println!("cargo::error={}", why.replace('\n', " "));
    }
}

fn embed() -> Result<(), String> {
    let package = PathBuf::from(var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(var("OUT_DIR")?).join("migrations.rs");
    let mut found = Vec::new();
    walk(Path::new(DIR), &mut found)?;
    let pairs = naming::check(found).map_err(|p| match p {
        naming::Problem::Empty => format!(
            "{DIR}/ holds no migrations (files like V1__create_things.sql, each with V1__create_things.down.sql beside it)"
        ),
        naming::Problem::File { path, why } => format!(
            "{}: {} (every .sql file in {DIR}/ is embedded in locksmith, and is named as `--source DIR` requires)",
            path.display(),
            why.describe(&|p| p.display().to_string())
        ),
    })?;
    let mut code = String::from("// Written by build.rs from migrations/; do not edit.\n&[\n");
    for p in &pairs {
        let up = literal(&package, &p.up)?;
        let down = literal(&package, &p.down)?;
        let _ = writeln!(
            code,
            "    Embedded {{ version: {}, name: {:?}, up: include_str!({up}), down: include_str!({down}) }},",
            p.version, p.name
        );
    }
    code.push_str("]\n");
    std::fs::write(&out, code).map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// The files below `dir` (not its directories; links not followed into
/// directories), as `--source` finds them.
fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), String> {
    let cannot = |e: std::io::Error| format!("cannot read {}: {e}", dir.display());
    for entry in std::fs::read_dir(dir).map_err(cannot)? {
        let entry = entry.map_err(cannot)?;
        let path = entry.path();
        if entry.file_type().map_err(cannot)?.is_dir() {
            walk(&path, found)?;
        } else {
            found.push(path);
        }
    }
    Ok(())
}

/// The absolute path of migration file `rel`, as a string literal for
/// `include_str!`, once it is known to hold UTF-8 text.
fn literal(package: &Path, rel: &Path) -> Result<String, String> {
    let bytes = std::fs::read(rel).map_err(|e| format!("cannot read {}: {e}", rel.display()))?;
    if let Err(e) = std::str::from_utf8(&bytes) {
        return Err(format!(
            "{}: it is not UTF-8 text (at byte {})",
            rel.display(),
            e.valid_up_to()
        ));
    }
    let abs = package.join(rel);
    abs.to_str()
        .map(|s| format!("{s:?}"))
        .ok_or_else(|| format!("{}: the path is not UTF-8", abs.display()))
}

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|e| format!("{name}: {e}"))
}

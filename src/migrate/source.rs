//! Reading a `--source DIR` directory before anything connects: every
//! directory listed and every file read within the command's deadline
//! (through [`crate::db::files`]), so that a FIFO nobody writes to or a
//! file system that does not answer ends the command in time, naming the
//! file; then checked with the rules `build.rs` checks `migrations/` with
//! ([`super::naming`]), so a misnamed migration is an error naming the
//! file, never skipped.

use super::naming::{self, Problem};
use crate::db::files::{self, Unreadable};
use crate::error::{Kind, Result};
use crate::shown::shown;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The most one migration file may hold: 1 GiB, the most a server takes
/// in one statement (`max_allowed_packet`'s ceiling), and refinery sends a
/// migration as one. A bound all the same, so that `/dev/zero` under a
/// migration's name is refused rather than read forever.
const MAX_MIGRATION_LEN: u64 = 1 << 30;

/// One migration of the directory, read.
pub(super) struct Read {
    pub(super) version: i32,
    pub(super) name: String,
    pub(super) up: String,
    pub(super) down: String,
}

/// The migrations in `dir` (every file below it), each with its down step,
/// oldest first; everything read before `until`.
pub(super) fn read(dir: &Path, until: Instant) -> Result<Vec<Read>> {
    let found = walk(dir, until)?;
    let pairs = naming::check(found).map_err(|p| match p {
        Problem::Empty => Kind::Invalid(format!(
            "--source {} holds no migrations (files like V1__create_things.sql, each with V1__create_things.down.sql beside it)",
            at(dir)
        )),
        Problem::File { path, why } => Kind::Invalid(format!(
            "{}: {}; nothing was run",
            at(&path),
            why.describe(&|p| at(p))
        )),
    })?;
    pairs
        .into_iter()
        .map(|p| {
            Ok(Read {
                up: text(&p.up, until)?,
                down: text(&p.down, until)?,
                version: p.version,
                name: p.name,
            })
        })
        .collect()
}

/// Every file below `dir` (not its directories); each directory listed
/// before `until`. Symbolic links are not followed into directories.
fn walk(dir: &Path, until: Instant) -> Result<Vec<PathBuf>> {
    let top = files::entries(dir, until).map_err(|e| match e {
        Unreadable::Io(e) if e.kind() == ErrorKind::NotADirectory => Kind::Invalid(format!(
            "--source {} is not a directory (it takes the directory holding V1__name.sql files)",
            at(dir)
        )),
        Unreadable::Io(e) if e.kind() == ErrorKind::NotFound => {
            Kind::Invalid(format!("--source {}: {e}", at(dir)))
        }
        e => cannot_read(dir, &e),
    })?;
    let mut out = Vec::new();
    let mut todo = vec![(dir.to_path_buf(), top)];
    while let Some((here, entries)) = todo.pop() {
        for (name, is_dir) in entries {
            let path = here.join(name);
            if is_dir {
                let inside = files::entries(&path, until).map_err(|e| cannot_read(&path, &e))?;
                todo.push((path, inside));
            } else {
                out.push(path);
            }
        }
    }
    Ok(out)
}

/// The text of the migration file at `path`, read before `until`.
fn text(path: &Path, until: Instant) -> Result<String> {
    let bytes = files::read_at_most(path, until, MAX_MIGRATION_LEN).map_err(|e| match e {
        Unreadable::TooLarge => Kind::Io(format!(
            "cannot read {}: it holds more than 1 GiB, more than a server takes in one statement",
            at(path)
        )),
        e => cannot_read(path, &e),
    })?;
    String::from_utf8(bytes).map_err(|_| {
        Kind::Io(format!(
            "cannot read {}: stream did not contain valid UTF-8",
            at(path)
        ))
        .into()
    })
}

fn cannot_read(path: &Path, e: &Unreadable) -> Kind {
    Kind::Io(format!("cannot read {}: {e}", at(path)))
}

fn at(p: &Path) -> String {
    shown(&p.display().to_string()).to_string()
}

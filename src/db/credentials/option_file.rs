//! MySQL option files (`~/.my.cnf`, `--defaults-file`) read by the mysql
//! client's rules, so that a file that works for `mysql` works the same for
//! locksmith, and one `mysql` refuses is refused here too:
//!
//! * `[group]` lines, the name matched without regard to case; the groups
//!   every MariaDB client reads are locksmith's: `[client]`,
//!   `[client-server]` and `[client-mariadb]`, in file order (the last
//!   setting wins whichever of them holds it). A program's own group
//!   (`[mysql]`, `[mysqldump]`) is not. A `[` line without its `]` is an
//!   error.
//! * `key=value` or a bare `key`; `-` and `_` alike in keys, a `loose-`
//!   prefix ignored; values bare (up to a `#` comment) or quoted, with
//!   backslash escapes. An option before any `[group]` is an error, as the
//!   mysql client reports it ("Found option without preceding group").
//! * `!include FILE` reads that file (a missing one is skipped, as the
//!   client does); `!includedir DIR` reads the files of DIR whose names end
//!   in `.cnf`, in name order (a missing DIR is an error). An included file
//!   starts outside any group; the including file's group goes on after it.
//!   Includes nest at most 10 deep.
//!
//! Every error names the file and line, never the line's text: it may hold
//! a password. Every read is bounded by the caller's deadline (see
//! [`crate::db::files`]).

use crate::db::files::{self, Unreadable};
use crate::error::{Kind, Result};
use crate::shown::shown;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The groups locksmith reads, as every MariaDB client does.
const GROUPS: [&str; 3] = ["client", "client-server", "client-mariadb"];

/// How deep `!include`s may nest (the mysql client's limit).
const MAX_DEPTH: usize = 10;

/// A value and where it was set (`FILE, line N`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Set {
    pub(crate) value: String,
    pub(crate) at: String,
}

/// What the client groups ([`GROUPS`]) of an option file (and its
/// includes) set:
/// the last setting of each key wins, as in the mysql client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Client {
    pub(crate) user: Option<Set>,
    pub(crate) password: Option<Set>,
    pub(crate) host: Option<Set>,
    pub(crate) port: Option<u16>,
    pub(crate) socket: Option<Set>,
    pub(crate) ssl_ca: Option<Set>,
}

/// Reads the option file at `path` and what it includes, before `until`.
/// `required`: a missing file is an error (it was named), not an absence.
pub(crate) fn read(path: &Path, required: bool, until: Instant) -> Result<Client> {
    let mut r = Reader {
        until,
        out: Client::default(),
    };
    match files::read(path, until) {
        Err(e) if !required && e.not_found() => Ok(Client::default()),
        Err(e) => Err(unreadable(path, e)),
        Ok(bytes) => {
            r.parse(path, &bytes, 0)?;
            Ok(r.out)
        }
    }
}

fn name(path: &Path) -> String {
    shown(&path.display().to_string()).into_owned()
}

fn unreadable(path: &Path, e: Unreadable) -> crate::Error {
    Kind::Invalid(format!("option file {}: {e}", name(path))).into()
}

/// An error at line `n` of `path`.
fn at_line(path: &Path, n: usize, what: impl std::fmt::Display) -> crate::Error {
    Kind::Invalid(format!("option file {}, line {n}: {what}", name(path))).into()
}

struct Reader {
    until: Instant,
    out: Client,
}

impl Reader {
    fn parse(&mut self, path: &Path, bytes: &[u8], depth: usize) -> Result<()> {
        let mut in_client: Option<bool> = None;
        for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
            let n = i + 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            let line = std::str::from_utf8(raw)
                .map_err(|_| at_line(path, n, "not valid UTF-8 text"))?
                .trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(directive) = line.strip_prefix('!') {
                self.directive(path, n, directive, depth)?;
                continue;
            }
            if let Some(group) = line.strip_prefix('[') {
                let Some(group) = group.strip_suffix(']') else {
                    return Err(at_line(
                        path,
                        n,
                        "a [group] line without its closing `]` (the mysql client refuses it too)",
                    ));
                };
                in_client = Some(GROUPS.iter().any(|g| group.eq_ignore_ascii_case(g)));
                continue;
            }
            match in_client {
                None => {
                    return Err(at_line(
                        path,
                        n,
                        "an option before any [group] (the mysql client refuses it too); put it under [client]",
                    ))
                }
                Some(false) => continue,
                Some(true) => self.option(path, n, line)?,
            }
        }
        Ok(())
    }

    /// `!include FILE`, `!includedir DIR`; other directives are ignored,
    /// as the mysql client does.
    fn directive(&mut self, path: &Path, n: usize, d: &str, depth: usize) -> Result<()> {
        let (dir, rest) = if let Some(rest) = d.strip_prefix("includedir") {
            (true, rest)
        } else if let Some(rest) = d.strip_prefix("include") {
            (false, rest)
        } else {
            return Ok(());
        };
        let keyword = if dir { "!includedir" } else { "!include" };
        if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
            return Ok(());
        }
        let target = rest.trim();
        if target.is_empty() {
            return Err(at_line(path, n, format!("{keyword} without a file name")));
        }
        if depth + 1 >= MAX_DEPTH {
            return Err(at_line(
                path,
                n,
                format!("{keyword} nests more than {MAX_DEPTH} files deep (does a file include itself?)"),
            ));
        }
        let target = PathBuf::from(target);
        if !dir {
            return self.include(path, n, &target, depth);
        }
        let names = files::list(&target, self.until)
            .map_err(|e| at_line(path, n, format!("!includedir {}: {e}", name(&target))))?;
        for file in names {
            if Path::new(&file).extension().is_some_and(|e| e == "cnf") {
                self.include(path, n, &target.join(file), depth)?;
            }
        }
        Ok(())
    }

    /// Reads an included file; a missing one (or a directory) is skipped,
    /// as the mysql client skips it.
    fn include(&mut self, from: &Path, n: usize, file: &Path, depth: usize) -> Result<()> {
        match files::read(file, self.until) {
            Ok(bytes) => self.parse(file, &bytes, depth + 1),
            Err(e) if e.not_found() || matches!(e, Unreadable::Directory) => Ok(()),
            Err(e) => Err(at_line(
                from,
                n,
                format!("cannot read the included {}: {e}", name(file)),
            )),
        }
    }

    /// One `key[=value]` line of a `[client]` group.
    fn option(&mut self, path: &Path, n: usize, line: &str) -> Result<()> {
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(value_of(v.trim()))),
            None => (line, None),
        };
        let key = key.replace('_', "-").to_ascii_lowercase();
        let key = key.strip_prefix("loose-").unwrap_or(&key);
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            return Ok(());
        };
        let set = || {
            Some(Set {
                value: value.clone(),
                at: format!("{}, line {n}", name(path)),
            })
        };
        match key {
            "user" => self.out.user = set(),
            "password" => self.out.password = set(),
            "host" => self.out.host = set(),
            "socket" => self.out.socket = set(),
            "ssl-ca" => self.out.ssl_ca = set(),
            "port" => {
                let port = value.parse::<u16>().ok().filter(|p| *p > 0);
                self.out.port =
                    Some(port.ok_or_else(|| {
                        at_line(path, n, "`port` is not a port number (1 to 65535)")
                    })?);
            }
            _ => {}
        }
        Ok(())
    }
}

/// An option's value as MySQL reads it: quoted (`"…"` or `'…'`, with
/// backslash escapes) or bare (up to a `#` comment, escapes too).
fn value_of(raw: &str) -> String {
    let mut chars = raw.chars().peekable();
    let quote = match chars.peek() {
        Some(&q @ ('"' | '\'')) => {
            chars.next();
            Some(q)
        }
        _ => None,
    };
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('b') => out.push('\u{8}'),
                Some('s') => out.push(' '),
                Some(other) => out.push(other),
                None => out.push('\\'),
            },
            c if Some(c) == quote => break,
            '#' if quote.is_none() => break,
            c => out.push(c),
        }
    }
    if quote.is_none() {
        out.truncate(out.trim_end().len());
    }
    out
}

#[cfg(test)]
mod tests;

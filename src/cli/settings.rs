//! The connection settings of one run, resolved once before anything
//! connects: connection flags after the subcommand over the same flags
//! before it, over the environment, over `./.env` (which never overrides
//! the environment, and supplies only `DATABASE_URL` and `LOCKSMITH_*`);
//! then the password from the URL, `--password-file`, `MYSQL_PWD` or the
//! option file's `[client]` section, in that order; then the TLS files,
//! read and checked. Every file is read within `--timeout` of the start
//! (see [`crate::db::files`]), and no error quotes a file's contents.

use super::args::ConnectOpts;
use super::values::parse_duration;
use crate::db::credentials::{self, Sources};
use crate::db::{files, DEFAULT_TIMEOUT};
use crate::error::{Kind, Result};
use crate::DbUrl;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The environment, with `./.env` beneath it.
#[derive(Debug, Default)]
pub struct Env {
    dotenv: HashMap<String, String>,
}

/// Where a variable was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Environment,
    DotEnv,
}

impl Env {
    /// Reads `./.env` when there is one, before `until`.
    pub fn load(until: Instant) -> Result<Env> {
        let bytes = match files::read(Path::new(".env"), until) {
            Ok(b) => b,
            Err(e) if e.not_found() => return Ok(Env::default()),
            Err(e) => return Err(Kind::Invalid(format!("cannot read ./.env: {e}")).into()),
        };
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            Kind::Invalid(format!("cannot read ./.env: line {line} is not UTF-8 text"))
        })?;
        let mut dotenv = HashMap::new();
        for item in dotenvy::from_read_iter(text.as_bytes()) {
            let (k, v) = item.map_err(|e| {
                Kind::Invalid(format!("cannot read ./.env: {}", dotenv_error(text, &e)))
            })?;
            if k == "DATABASE_URL" || k.starts_with("LOCKSMITH_") {
                dotenv.insert(k, v);
            }
        }
        Ok(Env { dotenv })
    }

    /// A variable: the environment's (unless empty), else `.env`'s.
    pub fn get(&self, key: &str) -> Option<String> {
        self.get_from(key).map(|(v, _)| v)
    }

    /// The same, and where it was found.
    fn get_from(&self, key: &str) -> Option<(String, Origin)> {
        match std::env::var(key).ok().filter(|v| !v.is_empty()) {
            Some(v) => Some((v, Origin::Environment)),
            None => self
                .dotenv
                .get(key)
                .filter(|v| !v.is_empty())
                .map(|v| (v.clone(), Origin::DotEnv)),
        }
    }

    /// A duration variable, checked like the flag it stands for.
    fn duration(&self, key: &str) -> Result<Option<Duration>> {
        self.get(key).map(|v| duration(key, &v)).transpose()
    }
}

fn duration(key: &str, v: &str) -> Result<Duration> {
    parse_duration(v).map_err(|e| Kind::Invalid(format!("{key}={v:?}: {e}")).into())
}

/// A `.env` line that does not parse, by its number only: the line itself
/// may hold a password (dotenvy's own message quotes it whole).
fn dotenv_error(text: &str, e: &dotenvy::Error) -> String {
    const NOT_SHOWN: &str = "(the line is not shown: it may hold a password)";
    match e {
        dotenvy::Error::LineParse(rest, _) if at_end(text, e) => {
            // An open quote ran to the end: `rest` is the file from the
            // line that opened it.
            let line = text[..text.len() - rest.len()].matches('\n').count() + 1;
            format!("line {line}: a quote opened there is not closed {NOT_SHOWN}")
        }
        dotenvy::Error::LineParse(..) => {
            // The fewest lines that dotenvy refuses already end with the
            // bad one (a line it refuses, it refuses in any longer text).
            let ends: Vec<usize> = text
                .match_indices('\n')
                .map(|(i, _)| i + 1)
                .chain((!text.ends_with('\n')).then_some(text.len()))
                .collect();
            let refused = |n: usize| {
                let prefix = &text[..ends[n - 1]];
                dotenvy::from_read_iter(prefix.as_bytes())
                    .find_map(|r| r.err())
                    .is_some_and(|e| !at_end(prefix, &e))
            };
            let (mut lo, mut hi) = (1, ends.len());
            while lo < hi {
                let mid = (lo + hi) / 2;
                if refused(mid) {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            format!("line {lo} is not KEY=VALUE (or holds an unclosed quote or `${{`) {NOT_SHOWN}")
        }
        dotenvy::Error::Io(e) => e.to_string(),
        _ => format!("it does not parse {NOT_SHOWN}"),
    }
}

/// Whether dotenvy's error is an open quote that ran to the end of `text`.
fn at_end(text: &str, e: &dotenvy::Error) -> bool {
    matches!(e, dotenvy::Error::LineParse(rest, i) if *i == rest.len() && !rest.is_empty() && text.ends_with(rest.as_str()))
}

/// Ready to connect.
#[derive(Debug)]
pub struct Settings {
    /// The URL, with the password and defaults from wherever they came.
    pub url: DbUrl,
    /// `--timeout`.
    pub timeout: Duration,
    /// `--wait-for-db` (zero: do not wait).
    pub wait_for_db: Duration,
    /// `--verbose`.
    pub verbose: bool,
}

impl Settings {
    /// Reads `./.env` and resolves the flags given `before` and `after`
    /// the subcommand, every file read within the timeout.
    pub fn load(before: &ConnectOpts, after: &ConnectOpts) -> Result<Settings> {
        let started = Instant::now();
        // Until `.env` is read, the timeout it may set is not known.
        let first = match after.timeout.or(before.timeout) {
            Some(t) => t,
            None => match std::env::var("LOCKSMITH_TIMEOUT")
                .ok()
                .filter(|v| !v.is_empty())
            {
                Some(v) => duration("LOCKSMITH_TIMEOUT", &v)?,
                None => DEFAULT_TIMEOUT,
            },
        };
        let env = Env::load(started + not_zero(first)?)?;
        Settings::resolve(before, after, &env, started)
    }

    /// Resolves the flags given `before` and `after` the subcommand;
    /// files are read before `started` + the timeout.
    pub fn resolve(
        before: &ConnectOpts,
        after: &ConnectOpts,
        env: &Env,
        started: Instant,
    ) -> Result<Settings> {
        let timeout = match after.timeout.or(before.timeout) {
            Some(t) => t,
            None => env
                .duration("LOCKSMITH_TIMEOUT")?
                .unwrap_or(DEFAULT_TIMEOUT),
        };
        let until = started + not_zero(timeout)?;
        let (url, origin) = match after.url.clone().or_else(|| before.url.clone()) {
            Some(u) => (Some(u), "--url"),
            None => match env.get_from("DATABASE_URL") {
                Some((u, Origin::Environment)) => (Some(u), "DATABASE_URL"),
                Some((u, Origin::DotEnv)) => (Some(u), "DATABASE_URL of ./.env"),
                None => (None, ""),
            },
        };
        let url = DbUrl::from_arg(url.as_deref())?.given_by(origin);
        let flag = after
            .password_file
            .clone()
            .or_else(|| before.password_file.clone());
        let (password_file, password_file_via) = match flag {
            Some(f) => (Some(f), None),
            None => match env.get_from("LOCKSMITH_PASSWORD_FILE") {
                Some((f, Origin::Environment)) => (
                    Some(PathBuf::from(f)),
                    Some("LOCKSMITH_PASSWORD_FILE".into()),
                ),
                Some((f, Origin::DotEnv)) => (
                    Some(PathBuf::from(f)),
                    Some("LOCKSMITH_PASSWORD_FILE of ./.env".into()),
                ),
                None => (None, None),
            },
        };
        let sources = Sources {
            password_file,
            password_file_via,
            defaults_file: after
                .defaults_file
                .clone()
                .or_else(|| before.defaults_file.clone()),
            mysql_pwd: std::env::var("MYSQL_PWD").ok(),
            home: std::env::var_os("HOME").map(PathBuf::from),
        };
        let url = url
            .with_defaults(&credentials::read(&sources, until)?)?
            .read_files(until)?;
        let wait_for_db = match after.wait_for_db.or(before.wait_for_db) {
            Some(w) => w,
            None => env.duration("LOCKSMITH_WAIT_FOR_DB")?.unwrap_or_default(),
        };
        Ok(Settings {
            url,
            timeout,
            wait_for_db,
            verbose: after.verbose || before.verbose,
        })
    }
}

fn not_zero(timeout: Duration) -> Result<Duration> {
    if timeout.is_zero() {
        return Err(Kind::Invalid(
            "--timeout must be more than 0s: every connect and statement gets that long".into(),
        )
        .into());
    }
    Ok(timeout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_dotenv_line_is_named_by_its_number_only() {
        for (text, says) in [
            (
                "A=1\nDATABASE_URL=mysql://u:Zq9Sekret@h/db x y\n",
                "line 2 is not KEY=VALUE",
            ),
            ("# c\n\nFOO BAR Zq9Sekret", "line 3 is not KEY=VALUE"),
            (
                "A=1\nB='Zq9Sekret\nC=2\n",
                "line 2: a quote opened there is not closed",
            ),
            ("A=\"x\ny\"\nB=Zq9\\Sekret\n", "line 3 is not KEY=VALUE"),
            ("A=\"x\ny\"\nB=\"Zq9Sekret\n\n", "line 3: a quote opened"),
        ] {
            let e = dotenvy::from_read_iter(text.as_bytes())
                .find_map(|r| r.err())
                .unwrap();
            let msg = dotenv_error(text, &e);
            assert!(msg.starts_with(says), "{text:?}: {msg}");
            assert!(!msg.contains("Zq9") && !msg.contains("Sekret"), "{msg}");
        }
    }
}

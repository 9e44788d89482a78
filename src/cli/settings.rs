//! The connection settings of one run, resolved once before anything
//! connects: connection flags after the subcommand over the same flags
//! before it, over the environment, over `./.env` (which never overrides
//! the environment, and supplies only `DATABASE_URL` and `LOCKSMITH_*`);
//! then the password from the URL, `--password-file`, `MYSQL_PWD` or the
//! option file's `[client]` section, in that order.

use super::args::ConnectOpts;
use super::values::parse_duration;
use crate::db::credentials::{self, Sources};
use crate::db::DEFAULT_TIMEOUT;
use crate::error::{Kind, Result};
use crate::DbUrl;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// The environment, with `./.env` beneath it.
#[derive(Debug, Default)]
pub struct Env {
    dotenv: HashMap<String, String>,
}

impl Env {
    /// Reads `./.env` when there is one.
    pub fn load() -> Result<Env> {
        let iter = match dotenvy::from_path_iter(".env") {
            Ok(iter) => iter,
            Err(e) if e.not_found() => return Ok(Env::default()),
            Err(e) => return Err(Kind::Invalid(format!("cannot read ./.env: {e}")).into()),
        };
        let mut dotenv = HashMap::new();
        for item in iter {
            let (k, v) = item.map_err(|e| Kind::Invalid(format!("cannot read ./.env: {e}")))?;
            if k == "DATABASE_URL" || k.starts_with("LOCKSMITH_") {
                dotenv.insert(k, v);
            }
        }
        Ok(Env { dotenv })
    }

    /// A variable: the environment's (unless empty), else `.env`'s.
    pub fn get(&self, key: &str) -> Option<String> {
        std::env::var(key)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| self.dotenv.get(key).cloned().filter(|v| !v.is_empty()))
    }

    /// A duration variable, checked like the flag it stands for.
    fn duration(&self, key: &str) -> Result<Option<Duration>> {
        self.get(key)
            .map(|v| {
                parse_duration(&v).map_err(|e| Kind::Invalid(format!("{key}={v:?}: {e}")).into())
            })
            .transpose()
    }
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
    /// Resolves the flags given `before` and `after` the subcommand.
    pub fn resolve(before: &ConnectOpts, after: &ConnectOpts, env: &Env) -> Result<Settings> {
        let url = match after.url.clone().or_else(|| before.url.clone()) {
            Some(u) => Some(u),
            None => env.get("DATABASE_URL"),
        };
        let url = DbUrl::from_arg(url.as_deref())?;
        let sources = Sources {
            password_file: after
                .password_file
                .clone()
                .or_else(|| before.password_file.clone())
                .or_else(|| env.get("LOCKSMITH_PASSWORD_FILE").map(PathBuf::from)),
            defaults_file: after
                .defaults_file
                .clone()
                .or_else(|| before.defaults_file.clone()),
            mysql_pwd: std::env::var("MYSQL_PWD").ok(),
            home: std::env::var_os("HOME").map(PathBuf::from),
        };
        let url = url.with_defaults(&credentials::read(&sources)?)?;
        let timeout = match after.timeout.or(before.timeout) {
            Some(t) => t,
            None => env
                .duration("LOCKSMITH_TIMEOUT")?
                .unwrap_or(DEFAULT_TIMEOUT),
        };
        if timeout.is_zero() {
            return Err(Kind::Invalid(
                "--timeout must be more than 0s: every connect and statement gets that long".into(),
            )
            .into());
        }
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

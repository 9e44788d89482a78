//! A clean room to run `locksmith` in: no `DATABASE_URL`, password
//! variable or option file of this machine reaches it, `HOME` and the
//! working directory are empty temp dirs, and `RUST_BACKTRACE=1`, so that a
//! password leaking through a panic or a backtrace would show. Shared by
//! `connect`, `secrets` and `files`.

use crate::harness::*;
use std::path::PathBuf;
use std::process::Command;

/// A clean room to run `locksmith` in (see the module's comment).
pub struct Room {
    pub home: tempfile::TempDir,
    pub cwd: tempfile::TempDir,
}

impl Room {
    pub fn new() -> Room {
        Room {
            home: tempfile::tempdir().unwrap(),
            cwd: tempfile::tempdir().unwrap(),
        }
    }

    /// `locksmith ARGS`, with nothing set but what the room says.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.args(args)
            .current_dir(self.cwd.path())
            .env("HOME", self.home.path())
            .env("RUST_BACKTRACE", "1")
            .env_remove("DATABASE_URL")
            .env_remove("MYSQL_PWD")
            .env_remove("LOCKSMITH_PASSWORD_FILE")
            .env_remove("LOCKSMITH_TIMEOUT")
            .env_remove("LOCKSMITH_WAIT_FOR_DB")
            .env_remove("NO_COLOR");
        c
    }

    /// Runs `locksmith ARGS` with DATABASE_URL=url.
    pub fn run(&self, url: &str, args: &[&str]) -> Run {
        run_command(self.cmd(args).env("DATABASE_URL", url))
    }

    /// A file in the room's working directory.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.cwd.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// The URL with its password shown as locksmith shows it.
pub fn redacted(url: &str, password: &str) -> String {
    url.replace(&format!(":{password}@"), ":***@")
}

/// A random password, made for this run and never written down.
pub fn random_password() -> String {
    std::iter::repeat_with(fastrand::alphanumeric)
        .take(20)
        .collect()
}

/// Asserts that no run of 4 characters of `secret` appears in stdout or
/// stderr: not the secret, nor any part of it a masking stopped short of.
#[track_caller]
pub fn hides(r: &Run, secret: &str) {
    let chars: Vec<char> = secret.chars().collect();
    assert!(chars.len() >= 4, "a secret of at least 4 characters");
    for w in chars.windows(4) {
        let run: String = w.iter().collect();
        assert!(
            !r.stdout.contains(&run) && !r.stderr.contains(&run),
            "{run:?} of the secret {secret:?} was shown: {r:#?}"
        );
    }
}

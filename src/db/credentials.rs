//! Credentials and connection defaults from outside the command line, so
//! that a password need not sit in `ps` output or shell history: a password
//! file, `MYSQL_PWD`, and the `[client]` section of a MySQL option file
//! (`~/.my.cnf`, read by the mysql client's rules: see `option_file`).
//! What a URL gives always wins; see
//! [`DbUrl::with_defaults`](super::DbUrl::with_defaults).
//!
//! Password precedence, highest first: the URL's, `--password-file`,
//! `MYSQL_PWD`, the option file's. Each password keeps where it came
//! from, for an access-denied message to say. Every file is read within
//! the caller's deadline (see [`super::files`]).

mod option_file;

use super::files;
use super::url::ClientDefaults;
use crate::error::{Kind, Result};
use crate::shown::shown;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Where the defaults come from.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// A file holding the password (`--password-file`); its one trailing
    /// newline is not part of it.
    pub password_file: Option<PathBuf>,
    /// How the password file was named, for messages (`--password-file`
    /// unless said otherwise, e.g. `LOCKSMITH_PASSWORD_FILE`).
    pub password_file_via: Option<String>,
    /// The option file to read instead of `~/.my.cnf` (`--defaults-file`).
    pub defaults_file: Option<PathBuf>,
    /// `MYSQL_PWD`.
    pub mysql_pwd: Option<String>,
    /// The home directory, for `~/.my.cnf`.
    pub home: Option<PathBuf>,
}

/// Reads the defaults, every file before `until`. A named file (password
/// file, `--defaults-file`) must be readable; `~/.my.cnf` is read when it
/// is there.
pub fn read(src: &Sources, until: Instant) -> Result<ClientDefaults> {
    let cnf = match (&src.defaults_file, &src.home) {
        (Some(f), _) => option_file::read(f, true, until)?,
        (None, Some(home)) => option_file::read(&home.join(".my.cnf"), false, until)?,
        (None, None) => option_file::Client::default(),
    };
    let value = |s: &Option<option_file::Set>| s.as_ref().map(|s| s.value.clone());
    let mut d = ClientDefaults {
        user: value(&cnf.user),
        password: value(&cnf.password),
        password_from: cnf
            .password
            .as_ref()
            .map(|s| format!("the option file {}", s.at)),
        host: value(&cnf.host),
        port: cnf.port,
        socket: value(&cnf.socket),
        ssl_ca: value(&cnf.ssl_ca).map(PathBuf::from),
    };
    if let Some(pw) = src.mysql_pwd.clone().filter(|p| !p.is_empty()) {
        d.password = Some(pw);
        d.password_from = Some("MYSQL_PWD".into());
    }
    if let Some(f) = &src.password_file {
        let named = match &src.password_file_via {
            None => format!("--password-file {}", shown_path(f)),
            Some(via) => format!("the password file {} ({via})", shown_path(f)),
        };
        d.password = Some(password_file(&named, f, until)?);
        d.password_from = Some(named);
    }
    Ok(d)
}

fn shown_path(path: &Path) -> String {
    shown(&path.display().to_string()).into_owned()
}

/// The password in a file: all of it but one trailing line end.
fn password_file(named: &str, path: &Path, until: Instant) -> Result<String> {
    let bytes = files::read(path, until).map_err(|e| Kind::Invalid(format!("{named}: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Kind::Invalid(format!("{named}: the file is not UTF-8 text")))?;
    let pw = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if pw.is_empty() {
        return Err(Kind::Invalid(format!("{named} is empty")).into());
    }
    Ok(pw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[test]
    fn password_precedence_and_where_each_came_from() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".my.cnf"), "[client]\npassword=from-cnf\n").unwrap();
        let pwf = dir.path().join("pw");
        std::fs::write(&pwf, "from-file\n").unwrap();
        let home = Some(dir.path().to_path_buf());
        let with = |file: bool, env: bool| {
            let d = read(
                &Sources {
                    password_file: file.then(|| pwf.clone()),
                    mysql_pwd: env.then(|| "from-env".to_string()),
                    home: home.clone(),
                    ..Sources::default()
                },
                soon(),
            )
            .unwrap();
            (d.password.unwrap(), d.password_from.unwrap())
        };
        assert_eq!(
            with(true, true),
            (
                "from-file".into(),
                format!("--password-file {}", pwf.display())
            )
        );
        assert_eq!(with(false, true), ("from-env".into(), "MYSQL_PWD".into()));
        assert_eq!(
            with(false, false),
            (
                "from-cnf".into(),
                format!("the option file {}/.my.cnf, line 2", dir.path().display())
            )
        );
        let e = read(
            &Sources {
                password_file: Some(dir.path().join("nope")),
                password_file_via: Some("LOCKSMITH_PASSWORD_FILE".into()),
                ..Sources::default()
            },
            soon(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            format!(
                "the password file {}/nope (LOCKSMITH_PASSWORD_FILE): No such file or directory (os error 2)",
                dir.path().display()
            )
        );
        let e = read(
            &Sources {
                defaults_file: Some(dir.path().join("absent.cnf")),
                ..Sources::default()
            },
            soon(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("absent.cnf"), "{e}");
    }
}

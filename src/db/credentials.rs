//! Credentials and connection defaults from outside the command line, so
//! that a password need not sit in `ps` output or shell history: a password
//! file, `MYSQL_PWD`, and the `[client]` section of a MySQL option file
//! (`~/.my.cnf`, as the mysql client reads it). What a URL gives always
//! wins; see [`DbUrl::with_defaults`](super::DbUrl::with_defaults).
//!
//! Password precedence, highest first: the URL's, `--password-file`,
//! `MYSQL_PWD`, the option file's.

use super::url::ClientDefaults;
use crate::error::{Kind, Result};
use crate::shown::shown;
use std::path::{Path, PathBuf};

/// Where the defaults come from.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// A file holding the password (`--password-file`); its one trailing
    /// newline is not part of it.
    pub password_file: Option<PathBuf>,
    /// The option file to read instead of `~/.my.cnf` (`--defaults-file`).
    pub defaults_file: Option<PathBuf>,
    /// `MYSQL_PWD`.
    pub mysql_pwd: Option<String>,
    /// The home directory, for `~/.my.cnf`.
    pub home: Option<PathBuf>,
}

/// Reads the defaults. A named file (password file, `--defaults-file`)
/// must be readable; `~/.my.cnf` is read when it is there.
pub fn read(src: &Sources) -> Result<ClientDefaults> {
    let mut d = match (&src.defaults_file, &src.home) {
        (Some(f), _) => option_file(f, true)?,
        (None, Some(home)) => option_file(&home.join(".my.cnf"), false)?,
        (None, None) => ClientDefaults::default(),
    };
    if let Some(pw) = src.mysql_pwd.clone().filter(|p| !p.is_empty()) {
        d.password = Some(pw);
    }
    if let Some(f) = &src.password_file {
        d.password = Some(password_file(f)?);
    }
    Ok(d)
}

fn unreadable(what: &str, path: &Path, e: std::io::Error) -> crate::Error {
    Kind::Invalid(format!(
        "{what} {}: {e}",
        shown(&path.display().to_string())
    ))
    .into()
}

/// The password in a file: all of it but one trailing line end.
fn password_file(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path).map_err(|e| unreadable("--password-file", path, e))?;
    let pw = text
        .strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(&text);
    if pw.is_empty() {
        return Err(Kind::Invalid(format!(
            "--password-file {} is empty",
            shown(&path.display().to_string())
        ))
        .into());
    }
    Ok(pw.to_string())
}

/// The `[client]` section of a MySQL option file. `required`: a missing
/// file is an error (it was named), not an absence.
fn option_file(path: &Path, required: bool) -> Result<ClientDefaults> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(ClientDefaults::default())
        }
        Err(e) => return Err(unreadable("option file", path, e)),
    };
    let mut d = ClientDefaults::default();
    let mut in_client = false;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty()
            || line.starts_with('#')
            || line.starts_with(';')
            || line.starts_with('!')
        {
            continue;
        }
        if let Some(group) = line.strip_prefix('[') {
            in_client = group
                .trim_end_matches(']')
                .trim()
                .eq_ignore_ascii_case("client");
            continue;
        }
        if !in_client {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), Some(value_of(v.trim()))),
            None => (line, None),
        };
        let key = key.replace('_', "-").to_ascii_lowercase();
        let Some(value) = value.filter(|v| !v.is_empty()) else {
            continue;
        };
        match key.as_str() {
            "user" => d.user = Some(value),
            "password" => d.password = Some(value),
            "host" => d.host = Some(value),
            "socket" => d.socket = Some(value),
            "ssl-ca" => d.ssl_ca = Some(PathBuf::from(value)),
            "port" => {
                d.port = Some(
                    value
                        .parse::<u16>()
                        .ok()
                        .filter(|p| *p > 0)
                        .ok_or_else(|| {
                            Kind::Invalid(format!(
                                "option file {}, line {}: port `{}` is not a port number",
                                shown(&path.display().to_string()),
                                n + 1,
                                shown(&value)
                            ))
                        })?,
                )
            }
            _ => {}
        }
    }
    Ok(d)
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
mod tests {
    use super::*;

    #[test]
    fn the_client_section_of_an_option_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("my.cnf");
        std::fs::write(
            &f,
            "# comment\n[mysqld]\nuser = mysql\n[client]\nuser=app\npassword = \"p#w \\\"x\\\"\"\nhost=db.example\nport = 3307 # the port\nssl_ca=/etc/ca.pem\nskip-ssl\n!includedir /etc/mysql/conf.d/\n[mysql]\npassword=other\n",
        )
        .unwrap();
        let d = read(&Sources {
            defaults_file: Some(f),
            ..Sources::default()
        })
        .unwrap();
        assert_eq!(
            d,
            ClientDefaults {
                user: Some("app".into()),
                password: Some("p#w \"x\"".into()),
                host: Some("db.example".into()),
                port: Some(3307),
                socket: None,
                ssl_ca: Some("/etc/ca.pem".into()),
            }
        );
    }

    #[test]
    fn password_precedence_and_files_named_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".my.cnf"), "[client]\npassword=from-cnf\n").unwrap();
        let pwf = dir.path().join("pw");
        std::fs::write(&pwf, "from-file\n").unwrap();
        let home = Some(dir.path().to_path_buf());
        let with = |file: bool, env: bool| {
            read(&Sources {
                password_file: file.then(|| pwf.clone()),
                mysql_pwd: env.then(|| "from-env".to_string()),
                home: home.clone(),
                ..Sources::default()
            })
            .unwrap()
            .password
            .unwrap()
        };
        assert_eq!(with(true, true), "from-file");
        assert_eq!(with(false, true), "from-env");
        assert_eq!(with(false, false), "from-cnf");
        let e = read(&Sources {
            password_file: Some(dir.path().join("nope")),
            ..Sources::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("--password-file ") && e.contains("nope"),
            "{e}"
        );
        let e = read(&Sources {
            defaults_file: Some(dir.path().join("absent.cnf")),
            ..Sources::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("absent.cnf"), "{e}");
    }
}

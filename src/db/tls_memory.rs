//! `ssl-mode=preferred` without a wasted connection: what each server
//! offers for TLS, remembered per `host:port`.
//!
//! mysql_async 0.37 decides on TLS before it sees the server's greeting:
//! asked for TLS, it drops a server whose greeting offers none (it cannot go
//! on without TLS on the same connection). The server counts that as an
//! aborted connect and logs "Aborted connection … without authentication",
//! and `preferred` has to connect again in plaintext. To spare a server
//! without TLS that noise on every invocation, the first such refusal is
//! remembered: in this process (the bench's many connections, concurrent
//! first connects waiting for one to find out), and in a small file under
//! the user's cache directory for the invocations after it
//! (`$XDG_CACHE_HOME/locksmith/servers-without-tls`, else
//! `~/.cache/locksmith/…`; see [`cache_file`]). A server remembered so gets
//! a plaintext connection at once; when that fails in a way TLS could fix
//! (an account created `REQUIRE SSL`), or the server says it has TLS now
//! (`have_ssl`), TLS is used and the memory updated.
//!
//! The file holds host names and ports only, never a secret. It is created
//! 0600 in a directory created 0700, written whole and renamed into place,
//! and read at most [`MAX_BYTES`] of, within [`FILE_TIME`]: a corrupt,
//! foreign, unreadable or unwritable file (or a slow file system) leaves
//! this process's memory alone in charge, silently. Only `preferred` reads
//! the memory; `required` and `verify_*` always use TLS (and update it).

use super::connect::refused;
use super::sql;
use super::tls::{self, SslMode};
use super::url::{DbUrl, Node};
use crate::error::Result;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// What a server offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Offer {
    /// TLS.
    Tls,
    /// No TLS: its greeting does not offer it.
    NoTls,
}

/// The file's name, in `locksmith/` under the cache directory.
const FILE_NAME: &str = "servers-without-tls";

/// Servers the file keeps at most (the most recently seen).
const MAX_ENTRIES: usize = 64;

/// Bytes of the file read at most.
const MAX_BYTES: u64 = 16 * 1024;

/// How long reading or writing the file may take (less if the deadline in
/// force comes sooner); after that, the memory of this process only. Short:
/// it is spent inside a connect, which a hung file system must not fail.
const FILE_TIME: Duration = Duration::from_millis(250);

const HEADER: &str =
    "# locksmith: servers seen without TLS (host:port, unix time). ssl-mode=preferred\n\
# connects to these without trying TLS first. Safe to delete: it is only a cache.\n";

struct Memory {
    known: HashMap<String, Offer>,
    /// The file, while it can be used.
    file: Option<PathBuf>,
    /// One turn per server not known yet: the first connect finds out,
    /// the others wait for it.
    turns: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
}

static MEMORY: tokio::sync::OnceCell<Mutex<Memory>> = tokio::sync::OnceCell::const_new();

/// The memory of this process, read from the file on first use.
async fn memory() -> MutexGuard<'static, Memory> {
    let m = MEMORY
        .get_or_init(|| async {
            let mut m = Memory {
                known: HashMap::new(),
                file: None,
                turns: HashMap::new(),
            };
            if let Some(path) = cache_file() {
                let read = path.clone();
                if let Some(Ok(entries)) = off_thread(move || load(&read)).await {
                    m.known = entries
                        .into_iter()
                        .map(|(k, _)| (k, Offer::NoTls))
                        .collect();
                    m.file = Some(path);
                }
            }
            Mutex::new(m)
        })
        .await;
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// How the memory names node `n`: `host:port`, the host in lower case.
pub(crate) fn key(n: &Node) -> String {
    n.to_string().to_ascii_lowercase()
}

/// What server `key` is known to offer, if anything.
pub(crate) async fn recall(key: &str) -> Option<Offer> {
    memory().await.known.get(key).copied()
}

/// Notes what server `key` offers; the file learns a change of mind.
pub(crate) async fn learn(key: &str, offer: Offer) {
    let (path, add) = {
        let mut m = memory().await;
        let before = m.known.insert(key.to_string(), offer);
        let changed = match offer {
            Offer::NoTls => before != Some(Offer::NoTls),
            Offer::Tls => before == Some(Offer::NoTls),
        };
        match (&m.file, changed) {
            (Some(p), true) => (p.clone(), offer == Offer::NoTls),
            _ => return,
        }
    };
    let key = key.to_string();
    if !matches!(
        off_thread(move || save(&path, &key, add)).await,
        Some(Ok(()))
    ) {
        // Unwritable, or too slow: this process remembers alone.
        memory().await.file = None;
    }
}

/// Waits for the turn to find out what server `key` offers.
async fn turn(key: &str) -> tokio::sync::OwnedMutexGuard<()> {
    let t = memory()
        .await
        .turns
        .entry(key.to_string())
        .or_default()
        .clone();
    t.lock_owned().await
}

/// Opens a connection to node `i` with `ssl-mode=preferred`: TLS when the
/// server offers it, else plaintext; straight to plaintext when the server
/// is known to have no TLS. Says whether it is encrypted.
pub(super) async fn open_preferred(url: &DbUrl, i: usize) -> Result<(Conn, bool)> {
    let key = key(&url.nodes()[i]);
    let mut waited = None;
    if recall(&key).await.is_none() {
        waited = Some(turn(&key).await);
    }
    if recall(&key).await == Some(Offer::NoTls) {
        drop(waited);
        return plaintext_remembered(url, i, &key).await;
    }
    let ssl = url.tls().ssl_opts(SslMode::Preferred, None);
    match Conn::new(url.opts_tls(i, ssl)).await {
        Ok(c) => {
            learn(&key, Offer::Tls).await;
            Ok((c, true))
        }
        Err(e) if tls::server_has_none(&e) => {
            learn(&key, Offer::NoTls).await;
            drop(waited);
            match Conn::new(url.opts(i)).await {
                Ok(c) => Ok((c, false)),
                Err(e) => Err(refused(url, i, e, SslMode::Preferred).await),
            }
        }
        Err(e) => Err(refused(url, i, e, SslMode::Preferred).await),
    }
}

/// Plaintext to a server remembered without TLS. When the server says it
/// has TLS now, or refuses in a way TLS could fix, TLS is used instead and
/// the memory corrected.
async fn plaintext_remembered(url: &DbUrl, i: usize, key: &str) -> Result<(Conn, bool)> {
    let first = match Conn::new(url.opts(i)).await {
        Ok(mut c) => {
            if !offers_tls(&mut c).await {
                return Ok((c, false));
            }
            // Closed cleanly: not an aborted connect.
            let _ = c.disconnect().await;
            None
        }
        Err(e) if tls_might_help(&e) => Some(e),
        Err(e) => return Err(refused(url, i, e, SslMode::Preferred).await),
    };
    let ssl = url.tls().ssl_opts(SslMode::Preferred, None);
    match (Conn::new(url.opts_tls(i, ssl)).await, first) {
        (Ok(c), _) => {
            learn(key, Offer::Tls).await;
            Ok((c, true))
        }
        // No TLS after all: the plaintext refusal stands.
        (Err(e), Some(plain)) if tls::server_has_none(&e) => {
            Err(refused(url, i, plain, SslMode::Preferred).await)
        }
        (Err(e), _) => Err(refused(url, i, e, SslMode::Preferred).await),
    }
}

/// Whether a server reached in plaintext has TLS (`have_ssl`).
async fn offers_tls(c: &mut Conn) -> bool {
    match c.query_first::<(String, String), _>(sql::HAVE_SSL).await {
        Ok(Some((_, value))) => value.eq_ignore_ascii_case("YES"),
        _ => false,
    }
}

/// A plaintext refusal that TLS could turn around: access denied (what an
/// account created `REQUIRE SSL` hears without TLS, on MariaDB also with
/// `require_secure_transport`), MySQL's "secure transport required" (3159).
fn tls_might_help(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(se) if matches!(se.code, 1045 | 3159))
}

/// The memory's file: `locksmith/servers-without-tls` under
/// `$XDG_CACHE_HOME` (when set to an absolute path), else under
/// `$HOME/.cache`; none without either.
pub(crate) fn cache_file() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from) {
        Some(p) if p.is_absolute() => p,
        _ => {
            let home = PathBuf::from(std::env::var_os("HOME")?);
            if !home.is_absolute() {
                return None;
            }
            home.join(".cache")
        }
    };
    Some(base.join("locksmith").join(FILE_NAME))
}

/// Runs file work on a blocking thread, within [`FILE_TIME`] (the connect
/// around it has its own deadline); `None` when it took longer.
async fn off_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    match tokio::time::timeout(FILE_TIME, tokio::task::spawn_blocking(f)).await {
        Ok(Ok(v)) => Some(v),
        _ => None,
    }
}

/// The file cannot be used (foreign, a symlink, not a regular file, not
/// readable, or not writable).
#[derive(Debug)]
struct Unusable;

/// The servers the file remembers, with when each was seen. A missing file
/// remembers none; lines that do not parse are skipped.
fn load(path: &Path) -> std::result::Result<Vec<(String, u64)>, Unusable> {
    let flags = nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC;
    let f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(_) => return Err(Unusable),
    };
    let meta = f.metadata().map_err(|_| Unusable)?;
    // Only a file of ours that nobody else may write: another user could
    // otherwise make `preferred` skip TLS.
    if !meta.is_file() || meta.uid() != nix::unistd::geteuid().as_raw() || meta.mode() & 0o022 != 0
    {
        return Err(Unusable);
    }
    let mut raw = Vec::new();
    f.take(MAX_BYTES)
        .read_to_end(&mut raw)
        .map_err(|_| Unusable)?;
    Ok(parse(&String::from_utf8_lossy(&raw)))
}

/// `host:port unix-time` lines, newest first, the rest skipped.
fn parse(text: &str) -> Vec<(String, u64)> {
    let mut entries: Vec<(String, u64)> = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some(k), Some(t), None) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        let (Some(host), Ok(t)) = (k.rsplit_once(':'), t.parse::<u64>()) else {
            continue;
        };
        let fine = !host.0.is_empty()
            && host.1.parse::<u16>().is_ok()
            && host
                .0
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_:[]".contains(c));
        if fine && !entries.iter().any(|(e, _)| e == k) {
            entries.push((k.to_string(), t));
        }
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.1));
    entries.truncate(MAX_ENTRIES);
    entries
}

/// Adds server `key` to the file (or, `add` false, removes it), keeping
/// what other processes wrote meanwhile: written to a temporary file and
/// renamed over the old one, so that a reader never sees half of it.
fn save(path: &Path, key: &str, add: bool) -> std::result::Result<(), Unusable> {
    let dir = path.parent().ok_or(Unusable)?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|_| Unusable)?;
    let mut entries = load(path)?;
    entries.retain(|(k, _)| k != key);
    if add {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        entries.insert(0, (key.to_string(), now));
    }
    entries.truncate(MAX_ENTRIES);
    let mut text = HEADER.to_string();
    for (k, t) in &entries {
        text.push_str(&format!("{k} {t}\n"));
    }
    let tmp = dir.join(format!(
        ".{FILE_NAME}.{}.{:08x}",
        std::process::id(),
        fastrand::u32(..)
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return Err(Unusable);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_file_parses_leniently_newest_first() {
        let text = "# comment\n\
            127.0.0.1:3306 100\n\
            db.example:3307 300\n\
            garbage\n\
            \u{1b}[31m:1 5\n\
            Upper:3306 7\n\
            [::1]:3306 200\n\
            db.example:3307 1\n\
            no-port: 9\n\
            h:99999 9\n\
            h:1 x\n\
            h:1 2 3\n";
        assert_eq!(
            parse(text),
            [
                ("db.example:3307".to_string(), 300),
                ("[::1]:3306".to_string(), 200),
                ("127.0.0.1:3306".to_string(), 100),
            ]
        );
        let many: String = (0..200).map(|i| format!("h:{} {i}\n", i + 1)).collect();
        let kept = parse(&many);
        assert_eq!(kept.len(), MAX_ENTRIES);
        assert_eq!(kept[0], ("h:200".to_string(), 199));
    }

    #[test]
    fn saving_adds_removes_and_keeps_the_file_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locksmith").join(FILE_NAME);
        save(&path, "a:1", true).unwrap();
        save(&path, "b:2", true).unwrap();
        save(&path, "a:1", false).unwrap();
        let keys: Vec<String> = load(&path).unwrap().into_iter().map(|e| e.0).collect();
        assert_eq!(keys, ["b:2"]);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        // A file others may write is not trusted, nor replaced.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(load(&path).is_err());
        assert!(save(&path, "c:3", true).is_err());
        // Nor is a symlink.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(load(&link).is_err());
    }
}

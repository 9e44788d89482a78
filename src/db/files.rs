//! Reading the files locksmith is pointed at before it connects (a password
//! file, option files and what they include, `./.env`, the TLS files, a
//! `--source` directory of migrations) within the command's deadline,
//! whatever the file is.
//!
//! Opening a FIFO blocks until somebody writes to it, and a read from a
//! hung network file system blocks for as long as the server is gone; no
//! flag of `open(2)` bounds either for every kind of file. So each file is
//! read on a thread of its own, and the caller waits for it no longer than
//! the deadline. A FIFO or `<(command)` that does deliver is read like any
//! file; one nobody writes to is reported, by name, when the time is up.
//! (The abandoned thread stays blocked until the process exits, which for
//! the command line is at once.) A file larger than any password, option
//! file or certificate (`/dev/zero`) is refused rather than read forever.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The most any of these files may hold.
pub const MAX_LEN: u64 = 1 << 20;

/// Why a file could not be read. Its text never quotes the file's
/// contents.
#[derive(Debug)]
pub enum Unreadable {
    /// The operating system refused (no such file, no permission, …).
    Io(std::io::Error),
    /// A directory, where a file was expected.
    Directory,
    /// More than [`MAX_LEN`] bytes.
    TooLarge,
    /// Nothing came before the deadline.
    TimedOut(Duration),
}

impl Unreadable {
    /// Whether the file does not exist.
    pub fn not_found(&self) -> bool {
        matches!(self, Unreadable::Io(e) if e.kind() == std::io::ErrorKind::NotFound)
    }
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreadable::Io(e) => write!(f, "{e}"),
            Unreadable::Directory => f.write_str("it is a directory, not a file"),
            Unreadable::TooLarge => write!(
                f,
                "it holds more than {} KiB, far more than it should (not a file of this kind?)",
                MAX_LEN / 1024
            ),
            Unreadable::TimedOut(_) => f.write_str(
                "nothing could be read from it before --timeout ran out: a FIFO nobody writes to, or a file system that does not answer?",
            ),
        }
    }
}

/// The whole of the file at `path`, read before `until`.
pub fn read(path: &Path, until: Instant) -> Result<Vec<u8>, Unreadable> {
    read_at_most(path, until, MAX_LEN)
}

/// The same for a file that may hold up to `max` bytes (more is
/// [`Unreadable::TooLarge`], whose text then names [`MAX_LEN`]: say the
/// limit yourself).
pub fn read_at_most(path: &Path, until: Instant, max: u64) -> Result<Vec<u8>, Unreadable> {
    let owned: PathBuf = path.to_path_buf();
    on_a_thread(until, move || read_now(&owned, max))
}

/// The names in directory `dir` (sorted), listed before `until`.
pub fn list(dir: &Path, until: Instant) -> Result<Vec<std::ffi::OsString>, Unreadable> {
    entries(dir, until).map(|all| all.into_iter().map(|(name, _)| name).collect())
}

/// The same, each name with whether it is a directory (a symbolic link
/// is not one, wherever it points).
pub fn entries(dir: &Path, until: Instant) -> Result<Vec<(std::ffi::OsString, bool)>, Unreadable> {
    let owned = dir.to_path_buf();
    on_a_thread(until, move || {
        let mut names = std::fs::read_dir(&owned)
            .and_then(|entries| {
                entries
                    .map(|e| e.and_then(|e| Ok((e.file_name(), e.file_type()?.is_dir()))))
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(Unreadable::Io)?;
        names.sort();
        Ok(names)
    })
}

/// Runs `job` on a thread of its own, waiting for it until `until`.
fn on_a_thread<T: Send + 'static>(
    until: Instant,
    job: impl FnOnce() -> Result<T, Unreadable> + Send + 'static,
) -> Result<T, Unreadable> {
    let limit = until.saturating_duration_since(Instant::now());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("locksmith-read".into())
        .spawn(move || {
            let _ = tx.send(job());
        })
        .map_err(Unreadable::Io)?;
    match rx.recv_timeout(limit) {
        Ok(result) => result,
        Err(_) => Err(Unreadable::TimedOut(limit)),
    }
}

/// The same, on this thread: blocks as long as the file does.
fn read_now(path: &Path, max: u64) -> Result<Vec<u8>, Unreadable> {
    let file = std::fs::File::open(path).map_err(Unreadable::Io)?;
    if file.metadata().map_err(Unreadable::Io)?.is_dir() {
        return Err(Unreadable::Directory);
    }
    let mut out = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| match e.raw_os_error() {
            Some(21) => Unreadable::Directory,
            _ => Unreadable::Io(e),
        })?;
    if out.len() as u64 > max {
        return Err(Unreadable::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_nobody_writes_to_is_given_up_on_in_time() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let started = Instant::now();
        let e = read(&fifo, started + Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(matches!(e, Unreadable::TimedOut(_)), "{e:?}");
        assert!(e.to_string().contains("a FIFO nobody writes to"), "{e}");
    }

    #[test]
    fn files_directories_and_endless_devices() {
        let dir = tempfile::tempdir().unwrap();
        let until = Instant::now() + Duration::from_secs(10);
        let f = dir.path().join("f");
        std::fs::write(&f, "x\n").unwrap();
        assert_eq!(read(&f, until).unwrap(), b"x\n");
        assert!(matches!(
            read(dir.path(), until),
            Err(Unreadable::Directory)
        ));
        assert!(read(&dir.path().join("none"), until)
            .unwrap_err()
            .not_found());
        assert!(matches!(
            read(Path::new("/dev/zero"), until),
            Err(Unreadable::TooLarge)
        ));
    }
}

//! Running the built `locksmith`: with DATABASE_URL set or with none, in
//! the background, with a signal; reading what it says until a marker; and
//! waiting on a condition (never a fixed sleep).

use super::*;

/// Path of the built binary.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_locksmith"))
}

/// A `locksmith` command with DATABASE_URL set to `url` (a proxy's, some
/// nodes'), not started yet.
pub fn command_at(url: &str, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args)
        .env("DATABASE_URL", url)
        .env("XDG_CACHE_HOME", cache_home())
        .env_remove("NO_COLOR");
    c
}

/// The cache directory the runs of `locksmith` get (what it remembers of
/// servers stays out of the user's own, ~/.cache/locksmith).
pub fn cache_home() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("xdg-cache")
}

/// Runs `locksmith ARGS` with DATABASE_URL set to `url`.
pub fn locksmith_at(url: &str, args: &[&str]) -> Run {
    run(&mut command_at(url, args), None)
}

/// Starts `locksmith ARGS` with DATABASE_URL set to `url`, in the
/// background, stdout and stderr captured.
pub fn spawn_at(url: &str, args: &[&str]) -> Child {
    command_at(url, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn locksmith")
}

/// Sends `sig` to process `pid`.
pub fn signal(pid: u32, sig: nix::sys::signal::Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).expect("send a signal");
}

/// Reads `stream` line by line until a line contains `marker`; returns
/// everything read so far.
pub fn read_until(stream: &mut impl BufRead, marker: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stream.read_line(&mut line).unwrap();
        seen.push_str(&line);
        assert!(n > 0, "{marker:?} never came; got {seen:?}");
        if line.contains(marker) {
            return seen;
        }
    }
}

/// Runs `locksmith` with no DATABASE_URL at all.
pub fn locksmith_bare(args: &[&str]) -> Run {
    run(
        Command::new(bin())
            .args(args)
            .env("XDG_CACHE_HOME", cache_home())
            .env_remove("DATABASE_URL"),
        None,
    )
}

pub(super) fn run(cmd: &mut Command, stdin: Option<&str>) -> Run {
    cmd.env_remove("NO_COLOR")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn locksmith");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    Run::from(child.wait_with_output().unwrap())
}

/// Whether process `pid` is gone (a zombie nobody has reaped yet counts).
pub fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

/// Polls `cond` every 10 ms until it holds; panics, naming `what`, if it
/// does not within `limit`. The way tests wait for something to happen
/// (never a fixed sleep).
#[track_caller]
pub fn wait_until(what: &str, limit: std::time::Duration, cond: impl FnMut() -> bool) {
    assert!(
        poll_until(limit, cond),
        "waited {limit:?}, but never: {what}"
    );
}

/// Polls `cond` every 10 ms until it holds (true) or `limit` has passed
/// (false): for something that may rightly never happen.
pub fn poll_until(limit: std::time::Duration, mut cond: impl FnMut() -> bool) -> bool {
    let t = std::time::Instant::now();
    while !cond() {
        if t.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    true
}

/// Runs a `locksmith` command built by the caller (its environment,
/// working directory and arguments as the caller set them; stdin empty).
pub fn run_command(cmd: &mut Command) -> Run {
    run(cmd, None)
}

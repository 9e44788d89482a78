//! Who this process is, in the words locks and audit records use (the host
//! name, the operating-system user, the default holder `HOST:PID`), and who
//! any process of this host is, from /proc: its pid and its start time (in
//! clock ticks since boot), which together name one process for as long as
//! the machine is up, and the boot id, which tells one boot from the next.
//! A pid alone is not a process: the kernel hands it to a newcomer once its
//! owner is gone.

/// The login name of the user running this process: `$USER`, `$LOGNAME`,
/// or the password database's name for our uid.
pub fn os_user() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                return v;
            }
        }
    }
    let uid = nix::unistd::Uid::current();
    match nix::unistd::User::from_uid(uid) {
        Ok(Some(user)) => user.name,
        _ => format!("uid{uid}"),
    }
}

/// This machine's host name.
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown-host".into())
}

/// `HOST:PID` of this process: enough for an operator to find it.
pub fn default_holder() -> String {
    format!("{}:{}", hostname(), std::process::id())
}

/// Whether `holder` (`HOST:PID`, as [`default_holder`] writes it) names a
/// process of this host that is no longer running. `false` whenever that
/// cannot be told for sure: another host, a holder of another form, a
/// process that exists (even one this user may not signal).
pub fn gone(holder: &str) -> bool {
    let Some((host, pid)) = holder.rsplit_once(':') else {
        return false;
    };
    let Ok(pid) = pid.parse::<i32>() else {
        return false;
    };
    if host != hostname() || pid <= 0 {
        return false;
    }
    matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// What /proc/PID/stat says about a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcStat {
    /// Its pid.
    pub pid: i32,
    /// Its parent's pid.
    pub ppid: i32,
    /// When it started, in clock ticks since boot (field 22).
    pub start: u64,
    /// A zombie (or a dead process being removed): it runs no more code.
    pub dead: bool,
}

/// Parses a /proc/PID/stat line: `pid (comm) state ppid … starttime …`,
/// where comm may hold spaces and parentheses (so fields are counted from
/// after the last `)`).
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let pid = text.split_whitespace().next()?.parse().ok()?;
    let rest = text.get(text.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); starttime is field 22.
    let state = fields.first()?;
    let ppid = fields.get(1)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some(ProcStat {
        pid,
        ppid,
        start,
        dead: matches!(*state, "Z" | "X" | "x"),
    })
}

/// What /proc says about process `pid` of this host, if it exists.
pub fn proc_stat(pid: i32) -> Option<ProcStat> {
    if pid <= 0 {
        return None;
    }
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`), if the kernel says.
pub fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let id = id.trim();
    (!id.is_empty()).then(|| id.to_string())
}

/// When this machine booted, in seconds since the epoch (`btime` in
/// /proc/stat), by this machine's clock.
fn boot_time() -> Option<i64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|t| t.trim().parse().ok())
}

/// When process `start` ticks after boot began, in seconds since the
/// epoch by this machine's clock (for people; identity uses the ticks).
pub fn started_at(start: u64) -> Option<f64> {
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|hz| *hz > 0)?;
    Some(boot_time()? as f64 + start as f64 / hz as f64)
}

/// One process of this host, by what tells it from every other: the host,
/// the pid, its start time and the boot. Whose life a lock follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Process {
    /// The host name.
    pub host: String,
    /// Its pid.
    pub pid: i32,
    /// When it started, in clock ticks since boot.
    pub start: Option<u64>,
    /// The boot it runs in.
    pub boot_id: Option<String>,
}

impl Process {
    /// This process.
    pub fn this() -> Process {
        // Our own /proc entry always exists.
        Process::of(std::process::id() as i32).unwrap_or_else(|| Process {
            host: hostname(),
            pid: std::process::id() as i32,
            start: None,
            boot_id: boot_id(),
        })
    }

    /// The parent of this process (the shell or service that ran it).
    pub fn parent() -> Option<Process> {
        Process::of(nix::unistd::getppid().as_raw())
    }

    /// Process `pid` of this host; `None` when there is none (or it is a
    /// zombie, which runs no more code).
    pub fn of(pid: i32) -> Option<Process> {
        let stat = proc_stat(pid).filter(|s| !s.dead)?;
        Some(Process {
            host: hostname(),
            pid,
            start: Some(stat.start),
            boot_id: boot_id(),
        })
    }
}

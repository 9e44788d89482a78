//! Whether a lock's holder is alive, dead or unknown, and why. A holder is
//! **dead** only with evidence: its lease expired by the server's clock,
//! or, on this host, its process is gone, is now another process, or the
//! host rebooted since it registered. A holder on another host is judged by
//! its lease alone, never by this host's process table. A holder locksmith
//! did not register (Cloudron's task ids, any other writer, an old lock) is
//! **unknown**, never dead: nothing here can tell, and releasing a live
//! holder's lock is the one thing the lock is there to prevent.
//!
//! Clocks: a lease is judged by the server's clock (its heartbeats are
//! stamped by the server, and so is the moment it is judged), never by a
//! client's. On a Galera cluster each node has its own clock: a heartbeat
//! stamped by one node is judged by another, so the nodes' clocks are
//! assumed to agree (NTP) to well within a lease.

use super::registry::Registration;
use crate::host::Process;

/// What is known of a holder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    /// It proves it is alive: a fresh lease, or its process is running on
    /// this host.
    Alive,
    /// It is gone, with evidence.
    Dead,
    /// Nothing here can tell.
    Unknown,
}

impl State {
    /// `alive`, `dead` or `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Alive => "alive",
            State::Dead => "dead",
            State::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a verdict of dead rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Evidence {
    /// Its lease expired at this time (server clock, microseconds since
    /// the epoch).
    LeaseExpired { at_us: i64 },
    /// On this host, its process is gone.
    Gone,
    /// On this host, its pid is now another process.
    Reused,
    /// This host rebooted since it registered.
    Rebooted,
    /// An operator's probe said so.
    Probe,
}

/// A verdict on a holder, and why, in words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Liveness {
    pub state: State,
    pub why: String,
    /// For a dead holder: the evidence.
    pub evidence: Option<Evidence>,
}

impl Liveness {
    fn alive(why: String) -> Liveness {
        Liveness {
            state: State::Alive,
            why,
            evidence: None,
        }
    }

    fn dead(why: String, evidence: Evidence) -> Liveness {
        Liveness {
            state: State::Dead,
            why,
            evidence: Some(evidence),
        }
    }

    /// Unknown, because of `why`.
    pub fn unknown(why: impl Into<String>) -> Liveness {
        Liveness {
            state: State::Unknown,
            why: why.into(),
            evidence: None,
        }
    }

    /// A holder nobody registered.
    pub fn unregistered() -> Liveness {
        Liveness::unknown("not registered by locksmith")
    }

    /// Whether it is dead.
    pub fn is_dead(&self) -> bool {
        self.state == State::Dead
    }

    /// A probe's verdict: its exit status (0 alive, 1 dead, anything else
    /// unknown) and what it said.
    pub fn probed(code: Option<i32>, said: &str) -> Liveness {
        let said = if said.is_empty() {
            format!(
                "the probe exited {}",
                code.map_or("on a signal".to_string(), |c| c.to_string())
            )
        } else {
            format!("probe: {said}")
        };
        match code {
            Some(0) => Liveness::alive(said),
            Some(1) => Liveness::dead(said, Evidence::Probe),
            _ => Liveness::unknown(said),
        }
    }

    /// When a lease-based death began (the lease's end), for a lock-delay
    /// measured from it; `None` for other evidence, which a holder cannot
    /// wake up from.
    pub fn dead_since_us(&self) -> Option<i64> {
        match self.evidence {
            Some(Evidence::LeaseExpired { at_us }) => Some(at_us),
            _ => None,
        }
    }
}

/// What this host knows, for judging holders that run on it.
pub trait Here {
    /// This host's name.
    fn host(&self) -> &str;
    /// This boot's id.
    fn boot_id(&self) -> Option<&str>;
    /// The start time (clock ticks since boot) of this host's process
    /// `pid`; `None` when there is no such process.
    fn start_of(&self, pid: i32) -> Option<u64>;
}

/// The real host, from /proc.
pub struct ThisHost {
    host: String,
    boot_id: Option<String>,
}

impl ThisHost {
    /// This machine, as it is now.
    pub fn now() -> ThisHost {
        ThisHost {
            host: crate::host::hostname(),
            boot_id: crate::host::boot_id(),
        }
    }
}

impl Here for ThisHost {
    fn host(&self) -> &str {
        &self.host
    }
    fn boot_id(&self) -> Option<&str> {
        self.boot_id.as_deref()
    }
    fn start_of(&self, pid: i32) -> Option<u64> {
        Process::of(pid).and_then(|p| p.start)
    }
}

/// A time for people: `2026-11-26T04:30:12Z`.
fn when(us: i64) -> String {
    crate::db::value::epoch_text(&(us.div_euclid(1_000_000)).to_string())
}

/// A duration for people, as the tables show ages (`2h10m`, `7s`), or
/// milliseconds under a second.
fn span(us: i64) -> String {
    match us.max(0) {
        us if us < 1_000_000 => format!("{}ms", us / 1000),
        us => crate::shown::age(us / 1_000_000),
    }
}

/// Judges a registered holder at server time `now_us`.
pub fn judge(r: &Registration, now_us: i64, here: &dyn Here) -> Liveness {
    let lease = r.lease_ms.map(|ms| ms.saturating_mul(1000));
    if let Some(l) = lease {
        let ends = r.beat_us.saturating_add(l);
        if now_us >= ends {
            return Liveness::dead(
                format!(
                    "lease expired at {} by the server's clock (no heartbeat for {}; lease {})",
                    when(ends),
                    span(now_us - r.beat_us),
                    span(l)
                ),
                Evidence::LeaseExpired { at_us: ends },
            );
        }
    }
    if r.host == here.host() {
        let pid = r.pid;
        if let (Some(then), Some(now)) = (r.boot_id.as_deref(), here.boot_id()) {
            if then != now {
                return Liveness::dead(
                    format!("host {} rebooted since (its boot id changed)", r.host),
                    Evidence::Rebooted,
                );
            }
        }
        match (here.start_of(pid), r.pid_start) {
            (None, _) => {
                return Liveness::dead(format!("on this host, PID {pid} is gone"), Evidence::Gone)
            }
            (Some(now), Some(then)) if now != then => {
                return Liveness::dead(
                    format!(
                        "on this host, PID {pid} is now another process (its start time differs)"
                    ),
                    Evidence::Reused,
                )
            }
            _ => {
                let lease = lease
                    .map(|l| {
                        format!(
                            "; heartbeat {} ago, lease {}",
                            span(now_us - r.beat_us),
                            span(l)
                        )
                    })
                    .unwrap_or_default();
                return Liveness::alive(format!("PID {pid} is running on this host{lease}"));
            }
        }
    }
    match lease {
        Some(l) => Liveness::alive(format!(
            "heartbeat {} ago, lease {} (server clock)",
            span(now_us - r.beat_us),
            span(l)
        )),
        None => Liveness::unknown(format!(
            "PID {} on host {}, without a lease: only that host can tell",
            r.pid, r.host
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::super::registry::Stage;
    use super::*;

    struct Fake {
        procs: Vec<(i32, u64)>,
    }

    impl Here for Fake {
        fn host(&self) -> &str {
            "here"
        }
        fn boot_id(&self) -> Option<&str> {
            Some("boot-2")
        }
        fn start_of(&self, pid: i32) -> Option<u64> {
            self.procs.iter().find(|(p, _)| *p == pid).map(|(_, s)| *s)
        }
    }

    fn reg(
        host: &str,
        pid: i32,
        start: u64,
        boot: &str,
        lease_ms: Option<i64>,
        beat_us: i64,
    ) -> Registration {
        Registration {
            holder: format!("{host}:{pid}"),
            row: "platform".into(),
            lock: "backup".into(),
            stage: Stage::Holds,
            since_us: 0,
            host: host.into(),
            pid,
            pid_start: Some(start),
            boot_id: Some(boot.into()),
            started_us: None,
            lease_ms,
            beat_us,
            fence: Some(4),
            unless_held: vec![],
            command: None,
            read_us: 0,
        }
    }

    const S: i64 = 1_000_000;
    const NOW: i64 = 1_764_129_600 * S;

    #[test]
    fn dead_only_with_evidence() {
        let here = Fake {
            procs: vec![(10, 500), (11, 600)],
        };
        let cases: [(Registration, State, &str); 9] = [
            (reg("here", 10, 500, "boot-2", None, 0), State::Alive, "PID 10 is running on this host"),
            (reg("here", 12, 500, "boot-2", None, 0), State::Dead, "on this host, PID 12 is gone"),
            (reg("here", 11, 599, "boot-2", None, 0), State::Dead, "on this host, PID 11 is now another process (its start time differs)"),
            (reg("here", 10, 500, "boot-1", None, 0), State::Dead, "host here rebooted since (its boot id changed)"),
            // A frozen process on this host: its lease decides.
            (reg("here", 10, 500, "boot-2", Some(3000), NOW - 4 * S), State::Dead, "lease expired at 2025-11-26T03:59:59Z by the server's clock (no heartbeat for 4s; lease 3s)"),
            (reg("here", 10, 500, "boot-2", Some(3000), NOW - S), State::Alive, "PID 10 is running on this host; heartbeat 1s ago, lease 3s"),
            // Another host: never judged by this host's processes.
            (reg("there", 12, 500, "boot-9", Some(30_000), NOW - 2 * S), State::Alive, "heartbeat 2s ago, lease 30s (server clock)"),
            (reg("there", 12, 500, "boot-9", Some(30_000), NOW - 31 * S), State::Dead, "lease expired at 2025-11-26T03:59:59Z by the server's clock (no heartbeat for 31s; lease 30s)"),
            (reg("there", 12, 500, "boot-9", None, 0), State::Unknown, "PID 12 on host there, without a lease: only that host can tell"),
        ];
        for (r, state, why) in cases {
            let v = judge(&r, NOW, &here);
            assert_eq!((v.state, v.why.as_str()), (state, why), "{r:?}");
            assert_eq!(v.evidence.is_some(), state == State::Dead);
        }
        let expired = judge(&reg("x", 1, 1, "b", Some(3000), NOW - 4 * S), NOW, &here);
        assert_eq!(expired.dead_since_us(), Some(NOW - S));
        assert_eq!(Liveness::unregistered().state, State::Unknown);
    }

    #[test]
    fn a_probe_decides_by_its_exit_status() {
        assert_eq!(
            Liveness::probed(Some(0), "task 7 running").state,
            State::Alive
        );
        let dead = Liveness::probed(Some(1), "task 7 finished");
        assert_eq!(
            (dead.state, dead.why.as_str()),
            (State::Dead, "probe: task 7 finished")
        );
        assert_eq!(Liveness::probed(Some(2), "").why, "the probe exited 2");
        assert_eq!(Liveness::probed(None, "").state, State::Unknown);
    }
}

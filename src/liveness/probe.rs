//! An operator's probe for holders locksmith did not register: a command
//! that knows (Cloudron's tasks table can say whether a task id is still
//! running). It runs once per unknown holder, with the holder in the
//! environment variable `LOCKSMITH_HOLDER`, never spliced into a shell
//! line, and a short timeout. Its exit status means alive (0), dead (1) or
//! unknown (anything else, a timeout included), and the first line it
//! prints becomes the verdict's `why`. The holders of one look are asked
//! side by side ([`PARALLEL`] at a time), and no probe outlives the
//! command's deadline: a row of many foreign holders costs one timeout,
//! not one per holder.

use super::verdict::Liveness;
use crate::db::Deadline;
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// How long a probe may take.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How many probes run at once.
pub const PARALLEL: usize = 8;

/// The most of a probe's output that is read (its first line is used).
const READ_MAX: u64 = 4096;

/// A probe: a shell command line, run with `sh -c`.
#[derive(Clone, Debug)]
pub struct Probe {
    command: String,
    timeout: Duration,
}

impl Probe {
    /// The command `command`, given `timeout` per holder.
    pub fn new(command: &str, timeout: Duration) -> Probe {
        Probe {
            command: command.to_string(),
            timeout,
        }
    }

    /// Asks about each of `holders` (once each), [`PARALLEL`] at a time,
    /// all by `until`: a probe still running then is killed and its holder
    /// is unknown, saying so.
    pub async fn ask_all(
        &self,
        holders: Vec<String>,
        until: Deadline,
    ) -> HashMap<String, Liveness> {
        let gate = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
        let mut asked = tokio::task::JoinSet::new();
        for holder in holders {
            let (probe, gate) = (self.clone(), gate.clone());
            asked.spawn(async move {
                let Ok(_turn) = gate.acquire_owned().await else {
                    return (holder, Liveness::unknown("the probe could not be run"));
                };
                let v = probe.ask_until(&holder, Some(until)).await;
                (holder, v)
            });
        }
        let mut verdicts = HashMap::new();
        while let Some(done) = asked.join_next().await {
            if let Ok((holder, v)) = done {
                verdicts.insert(holder, v);
            }
        }
        verdicts
    }

    /// Asks about `holder`. A probe that cannot be run, or that does not
    /// finish within its timeout (it is killed), gives unknown, saying so.
    pub async fn ask(&self, holder: &str) -> Liveness {
        self.ask_until(holder, None).await
    }

    /// [`Probe::ask`], ended by `until` if that comes before the timeout.
    async fn ask_until(&self, holder: &str, until: Option<Deadline>) -> Liveness {
        let (limit, cut) = match until.map(Deadline::remaining) {
            Some(left) if left < self.timeout => (left, true),
            _ => (self.timeout, false),
        };
        let mut child = match tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .env("LOCKSMITH_HOLDER", holder)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => return Liveness::unknown(format!("the probe could not be run: {e}")),
        };
        let pid = child.id();
        let mut out = Vec::new();
        let stdout = child.stdout.take();
        let ran = tokio::time::timeout(limit, async {
            if let Some(s) = stdout {
                let _ = s.take(READ_MAX).read_to_end(&mut out).await;
            }
            child.wait().await
        })
        .await;
        match ran {
            Ok(Ok(status)) => {
                let text = String::from_utf8_lossy(&out);
                let first = text.lines().next().unwrap_or_default().trim();
                Liveness::probed(status.code(), first)
            }
            Ok(Err(e)) => Liveness::unknown(format!("the probe failed: {e}")),
            Err(_) => {
                // The whole group: a shell's children too.
                if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
                let _ = child.kill().await;
                Liveness::unknown(match cut {
                    true => "the probe did not answer before the command's --timeout".to_string(),
                    false => format!(
                        "the probe did not answer within {}",
                        humantime::format_duration(self.timeout)
                    ),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::verdict::State;
    use super::*;

    fn ask(cmd: &str, holder: &str, timeout: Duration) -> Liveness {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(Probe::new(cmd, timeout).ask(holder))
    }

    #[test]
    fn the_holder_comes_in_the_environment_and_the_status_decides() {
        let t = Duration::from_secs(5);
        // The holder is never part of the command line: quotes stay inert.
        let v = ask(
            r#"echo "gone: $LOCKSMITH_HOLDER"; exit 1"#,
            "task '7'; rm -rf /",
            t,
        );
        assert_eq!(
            (v.state, v.why.as_str()),
            (State::Dead, "probe: gone: task '7'; rm -rf /")
        );
        assert_eq!(ask("echo running; exit 0", "t", t).state, State::Alive);
        let v = ask("exit 3", "t", t);
        assert_eq!(
            (v.state, v.why.as_str()),
            (State::Unknown, "the probe exited 3")
        );
        let v = ask("exec sleep 30", "t", Duration::from_millis(200));
        assert_eq!(
            (v.state, v.why.as_str()),
            (State::Unknown, "the probe did not answer within 200ms")
        );
    }
}

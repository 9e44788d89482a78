//! Several nodes in one URL: connecting to the first that answers, and
//! saying what happened at each when none does.
//!
//! A node is passed over when it cannot be reached for any reason that
//! says nothing about the others: its name does not resolve, it refuses
//! the connection, it does not answer in time, it drops the connection, or
//! it says to try again (a Galera node not ready, too many connections).
//! What the server decides about the client (access denied, no such
//! database, a refused TLS handshake) ends the search at once: every node
//! of a cluster would say the same. Every node gets a fair share of the
//! time left, so that all are tried within the deadline; the error of a
//! URL with one node is that node's own.

use super::connect::{try_node, Connected, Failure};
use super::deadline::Deadline;
use super::retry::{Policy, Retry};
use super::url::DbUrl;
use super::ConnectOptions;
use crate::error::{Error, Kind, Result};
use std::time::{Duration, Instant};

/// How long one node of several may take to answer before the next is
/// tried (less when the time left, shared among the nodes not tried yet,
/// is shorter).
const NODE_TRY: Duration = Duration::from_secs(5);

/// Opens one connection, set up, within `opts.timeout` (or less, if the
/// deadline comes sooner): to node `first` of the URL, or, when it does not
/// answer, to the next one that does.
pub(crate) async fn connect(
    url: &DbUrl,
    opts: &ConnectOptions,
    d: Deadline,
    first: usize,
) -> Result<Connected> {
    let n = url.nodes().len();
    let until = Instant::now() + d.bound(opts.timeout);
    let mut passed = Vec::new();
    for k in 0..n {
        let node = (first + k) % n;
        let left = until.saturating_duration_since(Instant::now());
        let share = match n {
            1 => left,
            _ => (left / (n - k) as u32).min(NODE_TRY),
        };
        let failure = match try_node(url, node, share, d, opts.report.as_ref()).await {
            Ok((conn, flavour)) => {
                return Ok(Connected {
                    conn,
                    node,
                    flavour,
                })
            }
            Err(f) => f,
        };
        match what_happened(&failure) {
            Some(what) if n > 1 => passed.push((url.node_name(node), what)),
            _ => return Err(failure.into_error(url, node)),
        }
    }
    let hint = hint(&passed);
    Err(Kind::NoNodeAnswered {
        url: url.redacted().to_string(),
        nodes: passed,
        hint,
    }
    .into())
}

/// What the unresolved host name of a node is called in the list.
const UNRESOLVED: &str = "the host name did not resolve";

/// A node passed over, in words for the list; `None` when the failure
/// ends the search.
fn what_happened(f: &Failure) -> Option<String> {
    let e = match f {
        Failure::Silent(after) => {
            return Some(format!("no answer within {:.1}s", after.as_secs_f64()))
        }
        Failure::NoTime => return Some("not tried: no time was left".into()),
        Failure::Failed(e) => e,
    };
    Some(match e.kind() {
        Kind::UnknownHost { .. } => UNRESOLVED.into(),
        Kind::Unreachable { reason, .. } => match e.io_kind() {
            Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".into(),
            Some(std::io::ErrorKind::ConnectionReset) => "the connection was reset".into(),
            _ => reason.clone(),
        },
        Kind::Lost(_) | Kind::Transient(_) => e.to_string(),
        _ if matches!(e.server_code(), Some(1040 | 1129)) => e.to_string(),
        _ => return None,
    })
}

/// What to check, for the nodes that did not answer.
fn hint(passed: &[(String, String)]) -> String {
    let unresolved = passed.iter().filter(|(_, w)| w == UNRESOLVED).count();
    let names = "check the host names in the URL (and the DNS or /etc/hosts of this machine)";
    let running = "are the servers running and listening on those hosts and ports?";
    match unresolved {
        0 => running.into(),
        u if u == passed.len() => names.into(),
        _ => format!("{names}; {running}"),
    }
}

/// Tries to connect until a node answers or `limit` has passed (each try
/// gets at most `opts.timeout`), for a command started before its server
/// (`--wait-for-db`). `on_fail` hears why each try failed and how long is
/// left. A server that answers and refuses (access denied, no such
/// database, TLS refused) is not waited for: time does not fix those.
pub async fn wait_for(
    url: &DbUrl,
    opts: &ConnectOptions,
    limit: Duration,
    on_fail: impl Fn(&Error, Duration) + Send + Sync,
) -> Result<()> {
    let d = Deadline::after(limit);
    let heard = |_: super::retry::Passing, e: &Error| on_fail(e, d.remaining());
    Retry::new(d, Policy::SERVER_START)
        .on_retry(&heard)
        .run(|_| async move {
            // Each try gets a moment at least, even at the very end.
            let this = Deadline::after(d.remaining().max(Duration::from_millis(100)));
            match connect(url, opts, this, 0).await {
                Ok(c) => {
                    let _ = c.conn.disconnect().await;
                    Ok(())
                }
                Err(e) => Err(e.into()),
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hint_fits_what_happened() {
        let node = |w: &str| ("h:1".to_string(), w.to_string());
        assert_eq!(
            hint(&[node(UNRESOLVED), node(UNRESOLVED)]),
            "check the host names in the URL (and the DNS or /etc/hosts of this machine)"
        );
        assert_eq!(
            hint(&[node("connection refused"), node("no answer within 1.0s")]),
            "are the servers running and listening on those hosts and ports?"
        );
        assert_eq!(
            hint(&[node(UNRESOLVED), node("connection refused")]),
            "check the host names in the URL (and the DNS or /etc/hosts of this machine); are the servers running and listening on those hosts and ports?"
        );
    }
}

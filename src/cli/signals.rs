//! What SIGINT and SIGTERM do to a command that is waiting for a lock: the
//! wait is given up, the library pays back whatever the cut-off acquisition
//! may have taken, and the command ends with exit 130.

use super::output::WaitLine;
use crate::error::{Kind, Result};
use crate::locks::{AcquireOptions, LockGuard, LockTable};

/// Acquires with a wait line on stderr, giving up cleanly on Ctrl-C or
/// SIGTERM.
pub(super) async fn lock(
    table: &LockTable,
    row: &str,
    name: &str,
    holder: &str,
    opts: &AcquireOptions,
) -> Result<LockGuard> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut line = WaitLine::new();
    let mut sigterm = signal(SignalKind::terminate())?;
    let result = tokio::select! {
        r = table.lock(row, name, holder, opts, |why| line.waiting(why)) => r,
        _ = tokio::signal::ctrl_c() => Err(Kind::Interrupted.into()),
        _ = sigterm.recv() => Err(Kind::Interrupted.into()),
    };
    line.done();
    if matches!(&result, Err(e) if matches!(e.kind(), Kind::Interrupted)) {
        // The cut-off lock() owes a release if its write may have landed.
        if let Err(e) = table.finish_pending().await {
            return Err(Kind::Unsettled(format!(
                "interrupted, and could not make sure lock `{name}` in row `{row}` is not left held by {holder}: {e}\nhint: check with `locksmith locks dump {row}`; `locksmith locks force-release {row} --holder '{holder}'` frees it"
            ))
            .into());
        }
    }
    result
}

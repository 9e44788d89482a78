//! [`LockTable`]'s methods about its holders' liveness (see
//! [`crate::liveness`]): registering a holder and forgetting it, renewing a
//! lease, observing every row with each holder judged, telling why a lock
//! was lost, and taking a lock over from a dead holder.

use super::super::audit::AuditInfo;
use super::super::data::{check_held, validate_stored_row_id};
use super::super::edit::Edit;
use super::super::guard::Acquired;
use super::super::observe::Snapshot;
use super::super::operator::WriteOpts;
use super::super::read;
use super::LockTable;
use crate::db::retry::Policy;
use crate::error::{Kind, Result};
use crate::liveness::{registry, Probe, Registering, Stage, ThisHost};
use std::time::Duration;

impl LockTable {
    /// The same table without a deadline of its own: each operation gets
    /// its timeout (for a guard's heartbeat, which outlives any deadline).
    pub(crate) fn unbounded(&self) -> LockTable {
        LockTable {
            inner: self.inner.clone(),
            until: None,
        }
    }

    /// Registers `holder`'s interest in `name` of `row` (waiting for it, or
    /// holding it); `false` when there is no registry (migration V3 is not
    /// applied) or this account may not write it, in which case nothing is
    /// registered.
    pub(crate) async fn register(
        &self,
        who: &Registering,
        (row, name, holder): (&str, &str, &str),
        stage: Stage,
        unless_held: &[String],
    ) -> Result<bool> {
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let mut c = c.with(Policy::OPERATION);
        match registry::register(&mut c, who, (holder, row, name), stage, unless_held).await {
            Ok(()) => Ok(true),
            // No registry, or this account may not write it (1142).
            Err(e) if matches!(e.kind(), Kind::NoTable(_)) || e.server_code() == Some(1142) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// The registered `holder` took `name` in `row`, with this token.
    pub(crate) async fn registered_holds(
        &self,
        (row, name, holder): (&str, &str, &str),
        fence: Option<i64>,
    ) -> Result<()> {
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let done =
            registry::holds(&mut c.with(Policy::OPERATION), (holder, row, name), fence).await;
        done
    }

    /// A heartbeat of `holder`'s registration for `name` in `row`, whether
    /// it holds the lock or waits for it; `false` when it is not registered.
    pub(crate) async fn beat(&self, row: &str, name: &str, holder: &str) -> Result<bool> {
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let beat = registry::beat(&mut c.with(Policy::OPERATION), (holder, row, name)).await;
        beat
    }

    /// Forgets `holder`'s registration for `name` in `row`.
    pub(crate) async fn unregister(&self, row: &str, name: &str, holder: &str) -> Result<()> {
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let done = registry::forget(&mut c.with(Policy::OPERATION), (holder, row, name)).await;
        done
    }

    /// A heartbeat of `holder`'s registration for `name` in `row`: fails
    /// with [`Kind::NotRegistered`] when there is none, and with
    /// [`Kind::NotHeld`] or [`Kind::WrongHolder`] when `holder` does not
    /// hold the lock (any more): a holder that renews a lock it lost must
    /// hear so.
    pub async fn renew(&self, row: &str, name: &str, holder: &str) -> Result<()> {
        validate_stored_row_id(row)?;
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let mut c = c.with(Policy::OPERATION);
        let beat = registry::beat(&mut c, (holder, row, name)).await;
        let state = read::row(&mut c, row).await?;
        drop(c);
        let state = state.ok_or_else(|| Kind::NoRow(row.into()))?;
        check_held(row, &state.data.locks().unwrap_or_default(), name, holder)?;
        match beat {
            Ok(true) => Ok(()),
            Ok(false) => Err(Kind::NotRegistered {
                row: row.into(),
                name: name.into(),
                holder: holder.into(),
            }
            .into()),
            Err(e) if matches!(e.kind(), Kind::NoTable(_)) => Err(Kind::NotRegistered {
                row: row.into(),
                name: name.into(),
                holder: holder.into(),
            }
            .into()),
            Err(e) => Err(e),
        }
    }

    /// The named rows (every row when `rows` is empty) and the holder
    /// registry, read together, with every holder judged (holders locksmith
    /// did not register asked about with `probe`, when given).
    pub async fn observe(&self, rows: &[String], probe: Option<&Probe>) -> Result<Snapshot> {
        let states = self.read_rows(rows).await?;
        let d = self.begin().await?;
        let mut c = self.inner.session.lease(d).await?;
        let registry = registry::read(&mut c.with(Policy::OPERATION), None).await?;
        drop(c);
        let now_us = registry
            .as_ref()
            .and_then(|r| r.first().map(|r| r.read_us))
            .or_else(|| states.first().map(|s| s.read_at * 1_000_000))
            .unwrap_or_default();
        Ok(Snapshot::judge(states, registry, now_us, &ThisHost::now(), probe, d).await)
    }

    /// Why `holder` lost `name` in `row`, as the audit trail tells it: the
    /// last change that removed it. `None` when no record says.
    pub(crate) async fn why_lost(&self, row: &str, name: &str, holder: &str) -> Option<String> {
        let records = self.history(Some(row)).await.ok()?;
        let r = records.iter().rev().find(|r| {
            r.removed_locks()
                .get(name)
                .is_some_and(|e| e.held_by(holder))
        })?;
        let evidence = r
            .evidence
            .as_ref()
            .and_then(|e| {
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(e.get()).ok()
            })
            .and_then(|m| m.get(name).and_then(|v| v.as_str().map(str::to_string)))
            .map(|why| format!(" ({why})"))
            .unwrap_or_default();
        let what = match r.action.as_str() {
            "release-dead" => "released as dead",
            "take-over" => "taken over",
            "release-by-holder" | "release-all" | "force-release" => "force-released",
            other => other,
        };
        Some(format!(
            "{what} by {} ({}) at {}{evidence}",
            r.os_user, r.db_user, r.at
        ))
    }

    /// Takes `name` in `row` over for `holder` from a holder that is dead
    /// (by the registry's evidence, re-checked in the write's transaction),
    /// once `delay` has passed since a lease-based death began: an audited
    /// change (`take-over`) that removes the dead holder's entry and adds
    /// `holder`'s. Fails with [`Kind::Held`] while the holder in the way is
    /// alive, unknown or within the lock-delay, and with [`Kind::NotHeld`]
    /// when nobody holds the lock any more.
    pub async fn take_over(
        &self,
        (row, name, holder): (&str, &str, &str),
        delay: Duration,
        command: &str,
    ) -> Result<Acquired> {
        let edit = Edit::TakeOver {
            name: name.into(),
            holder: holder.into(),
            delay,
        };
        let opts = WriteOpts {
            audit: Some(AuditInfo::new(edit.action(), command.into())),
            ..WriteOpts::default()
        };
        let change = self.edit(row, &edit, &opts).await?;
        Ok(Acquired {
            changed: true,
            fence: Some(change.version_after),
        })
    }
}

//! What the locks look like at one moment, with whether each holder is
//! alive and who waits for whom: for `locks dump`, `locks watch` and the
//! exporter, which all show the same thing. A [`Snapshot`] is the rows and
//! the holder registry read together, each lock's holder judged (see
//! [`crate::liveness::verdict`]), and the waits-for edges between holders,
//! with the cycles among them (deadlocks: nobody in one can ever go on).

use super::data::RowState;
use super::entries::Entry;
use crate::db::Deadline;
use crate::liveness::{judge, Here, Liveness, Probe, Registration, Stage, State};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The rows and the registry as read together, judged.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The rows, by id.
    pub rows: Vec<RowState>,
    /// The holder registry; `None` when there is none (migration V3 is not
    /// applied).
    pub registry: Option<Vec<Registration>>,
    /// The server's clock when it was read, in microseconds since the
    /// epoch.
    pub now_us: i64,
    /// Every held lock, row by row in stored order, judged.
    pub held: Vec<Held>,
    /// Every registered waiter, with what stands in its way.
    pub waiters: Vec<Waiter>,
    /// Cycles of holders each waiting for a lock the next one holds.
    pub deadlocks: Vec<Vec<String>>,
}

/// One held lock.
#[derive(Clone, Debug)]
pub struct Held {
    /// The row.
    pub row: String,
    /// The lock, as stored.
    pub entry: Entry,
    /// Its holder's liveness.
    pub liveness: Liveness,
    /// What the registry says of its holder, when it registered.
    pub registration: Option<Registration>,
    /// Since when it is held, by the server's clock (microseconds since
    /// the epoch): when the registry knows; else the row's last change,
    /// which it was held at least since (`since_exact` false).
    pub since_us: Option<i64>,
    /// Whether `since_us` is when the lock was taken (the registry says),
    /// rather than a lower bound.
    pub since_exact: bool,
}

impl Held {
    /// How long it has been held, in seconds, at `now_us` (at least this
    /// long, unless `since_exact`).
    pub fn age_secs(&self, now_us: i64) -> Option<f64> {
        self.since_us
            .map(|s| ((now_us - s).max(0)) as f64 / 1_000_000.0)
    }
}

/// A holder waiting for a lock.
#[derive(Clone, Debug)]
pub struct Waiter {
    /// What the registry says of it.
    pub registration: Registration,
    /// Whether it is alive (a dead waiter waits for nothing).
    pub liveness: Liveness,
    /// The locks in its way now: (name, holder as people read it).
    pub blocked_by: Vec<(String, String)>,
}

impl Snapshot {
    /// Judges `rows` and `registry`, read at server time `now_us` (and, for
    /// holders locksmith did not register, asks `probe` once per holder,
    /// side by side, all by `until`).
    pub async fn judge(
        rows: Vec<RowState>,
        registry: Option<Vec<Registration>>,
        now_us: i64,
        here: &dyn Here,
        probe: Option<&Probe>,
        until: Deadline,
    ) -> Snapshot {
        let regs: HashMap<(&str, &str, &str), &Registration> = registry
            .iter()
            .flatten()
            .map(|r| ((r.holder.as_str(), r.row.as_str(), r.lock.as_str()), r))
            .collect();
        let probed: HashMap<String, Liveness> = match probe {
            Some(p) => {
                let unregistered: BTreeSet<String> = rows
                    .iter()
                    .filter_map(|row| Some((row, row.data.locks()?)))
                    .flat_map(|(row, locks)| {
                        locks
                            .iter()
                            .filter(|e| registered(&regs, &row.id, e).is_none())
                            .map(|e| e.holder_text())
                            .collect::<Vec<_>>()
                    })
                    .collect();
                p.ask_all(unregistered.into_iter().collect(), until).await
            }
            None => HashMap::new(),
        };
        let mut held = Vec::new();
        for row in &rows {
            let Some(locks) = row.data.locks() else {
                continue;
            };
            for e in locks.iter() {
                let reg = registered(&regs, &row.id, e);
                let liveness = match reg {
                    Some(r) => judge(r, now_us, here),
                    None => probed
                        .get(&e.holder_text())
                        .cloned()
                        .unwrap_or_else(Liveness::unregistered),
                };
                let since = reg.filter(|r| r.stage == Stage::Holds).map(|r| r.since_us);
                held.push(Held {
                    row: row.id.clone(),
                    entry: e.clone(),
                    liveness,
                    registration: reg.cloned(),
                    since_exact: since.is_some(),
                    since_us: since.or(row.changed_at.map(|s| s * 1_000_000)),
                });
            }
        }
        let waiters = waiters(&rows, registry.as_deref().unwrap_or_default(), now_us, here);
        let deadlocks = cycles(&held, &waiters);
        Snapshot {
            rows,
            registry,
            now_us,
            held,
            waiters,
            deadlocks,
        }
    }

    /// The judged locks of one row.
    pub fn held_in<'a>(&'a self, row: &'a str) -> impl Iterator<Item = &'a Held> {
        self.held.iter().filter(move |h| h.row == row)
    }

    /// How many held locks have a dead holder.
    pub fn dead(&self) -> usize {
        self.held
            .iter()
            .filter(|h| h.liveness.state == State::Dead)
            .count()
    }
}

/// The registration of `e`'s holder for this lock: only a string holder
/// can be one locksmith registered.
fn registered<'a>(
    regs: &HashMap<(&str, &str, &str), &'a Registration>,
    row: &str,
    e: &Entry,
) -> Option<&'a Registration> {
    let name = e.name()?;
    if !e.holder().get().trim_start().starts_with('"') {
        return None;
    }
    let holder = e.holder_text();
    regs.get(&(holder.as_str(), row, name)).copied()
}

/// The registered waiters: registrations that wait, and whose holder does
/// not hold the lock already (it may have taken it a moment ago), with
/// what is in their way.
fn waiters(
    rows: &[RowState],
    registry: &[Registration],
    now_us: i64,
    here: &dyn Here,
) -> Vec<Waiter> {
    let mut out = Vec::new();
    for r in registry.iter().filter(|r| r.stage == Stage::Waits) {
        let locks = rows
            .iter()
            .find(|s| s.id == r.row)
            .and_then(|s| s.data.locks())
            .unwrap_or_default();
        if locks.get(&r.lock).is_some_and(|e| e.held_by(&r.holder)) {
            continue;
        }
        let patterns: Vec<glob::Pattern> = r
            .unless_held
            .iter()
            .filter_map(|p| glob::Pattern::new(p).ok())
            .collect();
        let blocked_by = locks
            .iter()
            .filter(|e| {
                let n = e.shown_name();
                n == r.lock.as_str()
                    || (e.name() != Some(r.lock.as_str()) && patterns.iter().any(|p| p.matches(&n)))
            })
            .filter(|e| !e.held_by(&r.holder))
            .map(|e| (e.shown_name().into_owned(), e.holder_text()))
            .collect();
        out.push(Waiter {
            registration: r.clone(),
            liveness: judge(r, now_us, here),
            blocked_by,
        });
    }
    out
}

/// Cycles in the waits-for graph: a waiter points at each holder of a lock
/// in its way. Each cycle is named once, by its holders, starting from the
/// smallest.
fn cycles(held: &[Held], waiters: &[Waiter]) -> Vec<Vec<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for w in waiters.iter().filter(|w| w.liveness.state != State::Dead) {
        for (_, holder) in &w.blocked_by {
            if *holder != w.registration.holder {
                edges
                    .entry(w.registration.holder.clone())
                    .or_default()
                    .insert(holder.clone());
            }
        }
    }
    // Only holders that hold something can be waited for.
    let holding: BTreeSet<String> = held.iter().map(|h| h.entry.holder_text()).collect();
    let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
    for start in edges.keys() {
        let mut path = vec![start.clone()];
        walk(start, &edges, &holding, &mut path, &mut found);
    }
    found.into_iter().collect()
}

fn walk(
    at: &str,
    edges: &BTreeMap<String, BTreeSet<String>>,
    holding: &BTreeSet<String>,
    path: &mut Vec<String>,
    found: &mut BTreeSet<Vec<String>>,
) {
    for next in edges.get(at).into_iter().flatten() {
        if !holding.contains(next) {
            continue;
        }
        if *next == path[0] {
            // Named from its smallest holder, so each cycle counts once.
            let i = path
                .iter()
                .enumerate()
                .min_by(|a, b| a.1.cmp(b.1))
                .map_or(0, |(i, _)| i);
            let mut cycle = path[i..].to_vec();
            cycle.extend_from_slice(&path[..i]);
            found.insert(cycle);
        } else if !path.contains(next) && path.len() < 64 {
            path.push(next.clone());
            walk(next, edges, holding, path, found);
            path.pop();
        }
    }
}

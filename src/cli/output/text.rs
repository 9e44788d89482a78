//! Text transcripts for people: what an operator change will do and did,
//! and what a migration run applied or rolled back.

use crate::db::Reached;
use crate::locks::{Change, Edit};
use crate::migrate::guard::held_by;
use crate::migrate::{
    Action, DownReport, Holder, MarkReport, MigrationStatus, State, Step, UpReport,
};
use crate::shown::{shown, shown_id};

/// A change before → after, in words; `planned` for the preview. Every
/// name, holder and stored text is escaped for the terminal, so that what
/// the prompt shows is what the row holds.
pub fn change(c: &Change, edit: &Edit, planned: bool) -> String {
    let mut s = format!(
        "row `{}`: version {} -> {}{}\n",
        shown_id(&c.row),
        c.version_before,
        c.version_after,
        if planned { " (planned)" } else { "" }
    );
    for r in &c.repairs {
        s.push_str(&format!(
            "{}: {}\n",
            if planned { "repair" } else { "repaired" },
            shown(r)
        ));
    }
    let verb = match (edit, planned) {
        (Edit::Repair, true) => "drop",
        (Edit::Repair, false) => "dropped",
        (_, true) => "release",
        (_, false) => "released",
    };
    for e in c.removed.iter() {
        let name = e.shown_name();
        let dead = c
            .evidence
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, why)| format!(": dead: {}", shown(why)))
            .unwrap_or_default();
        s.push_str(&format!(
            "{verb} {} (held by {}){dead}\n",
            shown(&name),
            shown(&e.holder_text())
        ));
    }
    if let Edit::TakeOver { name, holder, .. } = edit {
        s.push_str(&format!(
            "{} {} for {}\n",
            if planned { "take" } else { "took" },
            shown(name),
            shown(holder)
        ));
    }
    if let (Some(raw), Edit::All) = (&c.replaced_raw, edit) {
        s.push_str(&format!(
            "{} unparsable dataJson with {{}}; the old text, verbatim:\n{}\n",
            if planned { "replace" } else { "replaced" },
            shown(raw)
        ));
    }
    if let (Some(raw), Edit::Repair) = (&c.replaced_raw, edit) {
        s.push_str(&format!(
            "the old dataJson, verbatim (kept in the audit trail):\n{}\n",
            shown(raw)
        ));
    }
    if let Edit::Bump(_) = edit {
        s.push_str("locks untouched\n");
    }
    if c.raw_kept {
        s.push_str("dataJson is not a JSON object; left as it is\n");
    } else {
        s.push_str(&format!("{} lock(s) remain\n", c.remaining.len()));
    }
    s
}

/// What a release of dead holders found nothing to do about, in words.
pub fn nothing_dead(row: &str) -> String {
    format!(
        "no lock in row `{}` is held by a dead holder; nothing was changed\n",
        shown_id(row)
    )
}

/// What `migrate up` did, or would do with `--dry-run`.
pub fn up(report: &UpReport, dry_run: bool) -> String {
    let mut text = String::new();
    if report.steps.is_empty() {
        text.push_str(&match report.version {
            Some(v) => format!("Schema is up to date (version {v}); nothing to apply.\n"),
            None => "Nothing to apply.\n".to_string(),
        });
        return text;
    }
    for s in &report.steps {
        text.push_str(&step(s, dry_run));
    }
    if dry_run {
        text.push_str("-- Dry run: nothing was changed.\n");
        return text;
    }
    for label in &report.applied_elsewhere {
        text.push_str(&format!("{label} was applied by another run meanwhile\n"));
    }
    if let Some(v) = report.version {
        text.push_str(&format!("Schema is now at version {v}.\n"));
    }
    text
}

/// One migration `up` dealt with, or would.
fn step(s: &Step, dry_run: bool) -> String {
    let label = &s.migration.label;
    let why = s
        .detail
        .iter()
        .map(|d| shown(d))
        .collect::<Vec<_>>()
        .join("; ");
    let sql = s.migration.sql.trim_end();
    match (s.action, dry_run) {
        (Action::Apply, true) if s.state == State::Interrupted => {
            format!("-- Would apply {label} again ({why}):\n{sql}\n")
        }
        (Action::Apply, true) => format!("-- Would apply {label}:\n{sql}\n"),
        (Action::Adopt, true) => format!("-- Would adopt {label} without running it ({why})\n"),
        (Action::Recreate, true) => format!("-- Would re-create {label} ({why}):\n{sql}\n"),
        (Action::Apply, false) if s.state == State::Interrupted => {
            format!(
                "Applied {label} again (its first run was interrupted before it made anything)\n"
            )
        }
        (Action::Apply, false) => format!("Applied {label}\n"),
        (Action::Adopt, false) if s.state == State::Interrupted => format!(
            "Adopted {label}: its interrupted run had finished it; tables present and identical\n"
        ),
        (Action::Adopt, false) => format!("Adopted {label}: table already present and identical\n"),
        (Action::Recreate, false) => format!("Re-created {label}: {why}\n"),
        (Action::Restore, true) => format!(
            "-- Would restore {label}, renaming back what an interrupted `migrate down` left:\n{}\n",
            restores(s)
        ),
        (Action::Restore, false) => format!(
            "Restored {label}: renamed back what an interrupted `migrate down` left ({})\n",
            s.copies
                .iter()
                .map(|q| format!("`{}` is `{}` again, holding {}", q.name, q.of, q.holding()))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

/// The statements that bring a step's quarantined tables back.
fn restores(s: &Step) -> String {
    s.copies
        .iter()
        .map(|q| format!("{};", q.restore_sql()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The lines under the `migrate status` table: what is off with each
/// migration that is not applied, and what `up` does about it.
pub fn status_notes(list: &[MigrationStatus]) -> String {
    let mut text = String::new();
    for s in list.iter().filter(|s| !s.detail.is_empty() || s.blocks()) {
        text.push_str(&format!("{} is {}:\n", s.label(), s.state.label()));
        for d in &s.detail {
            text.push_str(&format!("  {}\n", shown(d)));
        }
        let next = match (s.next, s.state) {
            (Some(Action::Apply), _) => "`locksmith migrate up` applies it".to_string(),
            (Some(Action::Adopt), _) => "`locksmith migrate up` records it without running it".to_string(),
            (Some(Action::Recreate), _) => "`locksmith migrate up` runs it again to re-create it".to_string(),
            (Some(Action::Restore), _) => "`locksmith migrate up` renames it back".to_string(),
            (None, State::Applied) => "nothing for `locksmith migrate up` to do".to_string(),
            (None, State::Stranded) => {
                "`locksmith migrate up` refuses to go on, and `locksmith migrate down` refuses to drop it: decide which table to keep".to_string()
            }
            (None, State::Missing | State::Pending) => {
                "`locksmith migrate up` refuses to go on: rename back the copy to keep".to_string()
            }
            (None, State::Drifted) => {
                "`locksmith migrate up` refuses to go on: alter the table back to what the migration makes".to_string()
            }
            (None, State::Interrupted | State::PresentUnrecorded) => format!(
                "`locksmith migrate up` refuses to go on: check it by hand, then `locksmith migrate mark-applied {}`",
                s.version
            ),
            (None, _) => "`locksmith migrate up` refuses to go on".to_string(),
        };
        text.push_str(&format!("  -> {next}\n"));
    }
    text
}

/// What `mark-applied` will do, for the prompt and `--dry-run`.
pub fn mark_plan(s: &MigrationStatus, checksum: u64) -> String {
    let mut text = format!(
        "record {} as applied, with checksum {checksum}, without running it\nits state now: {}\n",
        s.label(),
        s.state.label()
    );
    for d in &s.detail {
        text.push_str(&format!("  {}\n", shown(d)));
    }
    text
}

/// What `mark-applied` did.
pub fn marked(r: &MarkReport) -> String {
    format!(
        "Recorded {} as applied (checksum {}); {}\n",
        r.migration,
        r.checksum,
        if r.audited {
            "the audit trail has a record of it (`locksmith locks history`)"
        } else {
            "not audited: there is no locks_audit table yet"
        }
    )
}

/// What a run waiting for the migration guard says.
pub fn guard_wait(h: &Holder) -> String {
    format!("waiting for the migration guard, held by {}", held_by(h))
}

/// The line `migrate status` adds while a run holds the guard.
pub fn guard_line(h: &Holder) -> String {
    let stale = if h.stale {
        " (its heartbeat has stopped: the next run takes over)"
    } else {
        ""
    };
    format!("Migration guard: held by {}{stale}\n", held_by(h))
}

/// What a run that took over a dead run's guard says.
pub fn took_over(h: &Holder) -> String {
    format!(
        "took over the migration guard from {}, whose heartbeat had stopped",
        held_by(h)
    )
}

/// The migrations a failed `migrate up` applied before the one that failed.
pub fn applied_before_failure(applied: &[String]) -> String {
    applied.iter().map(|a| format!("Applied {a}\n")).collect()
}

/// What `migrate down` did, or would do with `--dry-run`.
pub fn down(report: &DownReport, dry_run: bool) -> String {
    let mut text = String::new();
    if report.rolled_back.is_empty() {
        text.push_str("Nothing to roll back.\n");
    }
    for p in &report.rolled_back {
        if dry_run {
            text.push_str(&format!(
                "-- Would roll back {}:\n{}\n",
                p.label,
                p.sql.trim_end()
            ));
        } else {
            text.push_str(&format!("Rolled back {}\n", p.label));
        }
    }
    for q in &report.dropped_copies {
        text.push_str(&match dry_run {
            true => format!(
                "-- Would drop `{q}`, left (holding nothing) by an interrupted `migrate down`\n"
            ),
            false => format!("Dropped `{q}`, left by an interrupted `migrate down`\n"),
        });
    }
    if dry_run {
        text.push_str("-- Dry run: nothing was changed.\n");
    } else if !report.rolled_back.is_empty() {
        text.push_str(&match report.version {
            Some(v) => format!("Schema is now at version {v}.\n"),
            None => "No migrations are applied now.\n".to_string(),
        });
    }
    text
}

/// The loud message of a `locks run` whose lock could not be released.
pub fn still_held(row: &str, name: &str, holder: &str, why: &crate::Error) -> String {
    let (row, name, holder) = (shown_id(row), shown(name), shown(holder));
    // What failed, without its hints: the lines below say what to do.
    let why = why.to_string();
    let why = why.lines().next().unwrap_or_default();
    format!(
        "locksmith: ERROR: could not release lock `{name}` in row `{row}` held by {holder}: {why}\n\
         locksmith: the lock is STILL HELD. Free it with:\n\
         locksmith:   locksmith locks force-release {row} --holder '{holder}'\n"
    )
}

/// The `--verbose` line for a new connection.
pub fn reached(r: &Reached) -> String {
    format!(
        "connected to {} ({}) {}",
        r.node,
        r.server,
        match &r.tls {
            Some(t) => format!("over TLS: {t}"),
            None => "without TLS".to_string(),
        }
    )
}

/// What `--wait-for-db` says while the server does not answer.
pub fn db_wait(url: &str, last: &crate::Error, limit: std::time::Duration) -> String {
    let why = last.to_string();
    let why = why.lines().next().unwrap_or_default();
    format!(
        "waiting up to {}s for the database at {url}: {why}",
        limit.as_secs()
    )
}

/// Where a bench run is, for its progress line.
pub fn bench_phase(p: &crate::bench::Phase) -> String {
    match p.what {
        "check" => "bench: end-of-run check".into(),
        "ceiling" => format!(
            "bench: round {}/{}: INT ceiling (plain UPDATE commits)",
            p.round, p.rounds
        ),
        "row-ceiling" => format!(
            "bench: round {}/{}: row ceiling (same-size rewrites)",
            p.round, p.rounds
        ),
        _ => format!(
            "bench: round {}/{}: locks (acquire and release)",
            p.round, p.rounds
        ),
    }
}

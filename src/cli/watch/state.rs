//! What `locks watch` shows and what each key does to it, without any I/O:
//! the last snapshot, how it is sorted and filtered, which lock is
//! selected, and the mode (the list, a filter being typed, a lock's
//! detail, a plan waiting for y/N, the outcome of a change). A key changes
//! the state and may ask the I/O loop (`mod.rs`) for something, an
//! [`Action`]; what the loop gets back comes in through the methods named
//! after it ([`Ui::observed`], [`Ui::planned`], …). Kept apart from the
//! loop and from the view so that each is tested on its own.

use crate::cli::output::hints::error_text;
use crate::cli::output::text;
use crate::liveness::{Liveness, State as Verdict};
use crate::locks::{AuditRecord, Change, Edit, Held, Snapshot, Waiter};
use crate::shown::{shown, shown_id};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use std::time::Duration;

/// How the locks are ordered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sort {
    /// Oldest first (the default): what has been held longest is what an
    /// operator looks for.
    Age,
    /// By row, each row's locks in stored order.
    Row,
    /// By holder, then row.
    Holder,
}

impl Sort {
    /// The next order, for the `s` key.
    fn next(self) -> Sort {
        match self {
            Sort::Age => Sort::Row,
            Sort::Row => Sort::Holder,
            Sort::Holder => Sort::Age,
        }
    }

    /// Its name in the footer.
    pub(super) fn label(self) -> &'static str {
        match self {
            Sort::Age => "age",
            Sort::Row => "row",
            Sort::Holder => "holder",
        }
    }
}

/// Which lock a line shows, kept across refreshes so that the selection
/// stays on the same lock when the order changes: its row, its key as
/// stored, its holder as people read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct LockKey {
    pub(super) row: String,
    pub(super) key: String,
    pub(super) holder: String,
}

impl LockKey {
    pub(super) fn of(h: &Held) -> LockKey {
        LockKey {
            row: h.row.clone(),
            key: h.entry.key_text().to_string(),
            holder: h.entry.holder_text(),
        }
    }

    fn is(&self, h: &Held) -> bool {
        self.row == h.row && self.key == h.entry.key_text() && self.holder == h.entry.holder_text()
    }
}

/// The audit records of a lock's row, in its detail.
#[derive(Clone, Debug)]
pub(super) enum Records {
    /// Asked for, not here yet.
    Reading,
    /// The row's records, oldest first.
    Read(Vec<AuditRecord>),
    /// Why they could not be read, in words.
    Failed(String),
}

/// What the screen is doing.
#[derive(Clone, Debug)]
pub(super) enum Mode {
    /// The list of locks.
    List,
    /// A filter being typed (applied on Enter).
    Filter(String),
    /// One lock in detail.
    Detail { key: LockKey, records: Records },
    /// A release of a row's dead holders, being planned.
    Planning { row: String },
    /// The plan, waiting for y/N.
    Confirm {
        plan: Box<Change>,
        edit: Edit,
        text: String,
    },
    /// The planned change, being carried out.
    Applying { text: String },
    /// What a change came to (any key goes back to the list).
    Outcome { text: String, failed: bool },
}

/// How the connection is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Link {
    /// The last read worked.
    Up,
    /// A read has been under way this long without an answer.
    Slow { secs: u64 },
    /// The last read failed, `tries` in a row: the connection was lost
    /// (`connection`: the server went away, stopped answering, cannot be
    /// reached), and the next read reconnects; or something else (a row
    /// named on the command line is gone).
    Lost {
        why: String,
        tries: u32,
        connection: bool,
    },
}

/// What the I/O loop is asked to do after a key.
#[derive(Debug)]
pub(super) enum Action {
    /// Nothing but drawing again.
    Nothing,
    /// Leave the screen.
    Quit,
    /// Read the audit records of this row.
    History(String),
    /// Plan a release of the dead holders of this row.
    Plan(String),
    /// Carry out this plan, with an audit record.
    CarryOut { plan: Box<Change>, edit: Edit },
}

/// Everything the screen shows, but the frame.
#[derive(Debug)]
pub(super) struct Ui {
    /// The last snapshot read, if any was.
    pub(super) snapshot: Option<Snapshot>,
    pub(super) sort: Sort,
    /// The filter applied (empty: none).
    pub(super) filter: String,
    /// The selected line, by its place in [`Ui::visible`].
    pub(super) cursor: usize,
    /// The selected lock, to find it again after a refresh.
    selected: Option<LockKey>,
    pub(super) mode: Mode,
    pub(super) link: Link,
    /// `--warn-age`.
    pub(super) warn_age: Duration,
    /// `--interval`.
    pub(super) interval: Duration,
    /// Where the locks are read from, for the title (the URL without its
    /// password).
    pub(super) source: String,
}

impl Ui {
    pub(super) fn new(source: String, interval: Duration, warn_age: Duration) -> Ui {
        Ui {
            snapshot: None,
            sort: Sort::Age,
            filter: String::new(),
            cursor: 0,
            selected: None,
            mode: Mode::List,
            link: Link::Up,
            warn_age,
            interval,
            source,
        }
    }

    /// The locks shown, filtered and sorted.
    pub(super) fn visible(&self) -> Vec<&Held> {
        let Some(s) = &self.snapshot else {
            return Vec::new();
        };
        let needle = self.filter.to_lowercase();
        let mut held: Vec<&Held> = s
            .held
            .iter()
            .filter(|h| needle.is_empty() || matches(h, &needle))
            .collect();
        match self.sort {
            // Oldest first; a lock of unknown age last. Stable: ties keep
            // the stored order.
            Sort::Age => held.sort_by_key(|h| h.since_us.unwrap_or(i64::MAX)),
            Sort::Row => held.sort_by(|a, b| a.row.cmp(&b.row)),
            Sort::Holder => held.sort_by(|a, b| {
                (a.entry.holder_text(), &a.row).cmp(&(b.entry.holder_text(), &b.row))
            }),
        }
        held
    }

    /// The selected lock, if any is shown.
    pub(super) fn selected(&self) -> Option<&Held> {
        self.visible().get(self.cursor).copied()
    }

    /// A lock older than `--warn-age`.
    pub(super) fn is_old(&self, h: &Held) -> bool {
        let now = self.snapshot.as_ref().map_or(0, |s| s.now_us);
        h.age_secs(now)
            .is_some_and(|a| a >= self.warn_age.as_secs_f64())
    }

    /// The selection follows its lock after the list changed: found again
    /// by its key, or else kept at its place (clamped).
    fn resync(&mut self) {
        let found = self.selected.as_ref().and_then(|k| {
            let visible = self.visible();
            visible.iter().position(|h| k.is(h))
        });
        let len = self.visible().len();
        self.cursor = match found {
            Some(i) => i,
            None => self.cursor.min(len.saturating_sub(1)),
        };
        self.selected = self.selected().map(LockKey::of);
    }

    fn move_by(&mut self, by: isize) {
        let len = self.visible().len();
        if len == 0 {
            return;
        }
        let to = (self.cursor as isize + by).clamp(0, len as isize - 1);
        self.cursor = to as usize;
        self.selected = self.selected().map(LockKey::of);
    }

    // ---- what the loop reports --------------------------------------------

    /// A fresh snapshot was read.
    pub(super) fn observed(&mut self, s: Snapshot) {
        self.snapshot = Some(s);
        self.link = Link::Up;
        self.resync();
    }

    /// A read failed: the status line says why, and the last snapshot stays
    /// on the screen.
    pub(super) fn lost(&mut self, e: &crate::Error) {
        let why = first_line(&error_text(e));
        let tries = match &self.link {
            Link::Lost { tries, .. } => tries + 1,
            _ => 1,
        };
        use crate::error::Kind::*;
        let connection = matches!(
            e.kind(),
            Lost(_)
                | TimedOut { .. }
                | Unreachable { .. }
                | NoNodeAnswered { .. }
                | UnknownHost { .. }
                | Transient(_)
        );
        self.link = Link::Lost {
            why,
            tries,
            connection,
        };
    }

    /// A read has been under way for `waited` (more than an interval).
    pub(super) fn slow(&mut self, waited: Duration) {
        if !matches!(self.link, Link::Lost { .. }) {
            self.link = Link::Slow {
                secs: waited.as_secs(),
            };
        }
    }

    /// The audit records of a row were read (or not).
    pub(super) fn history(&mut self, row: &str, read: crate::Result<Vec<AuditRecord>>) {
        if let Mode::Detail { key, records } = &mut self.mode {
            if key.row == row {
                *records = match read {
                    Ok(r) => Records::Read(r),
                    Err(e) => Records::Failed(first_line(&error_text(&e))),
                };
            }
        }
    }

    /// A release of `row`'s dead holders was planned (or could not be).
    pub(super) fn planned(&mut self, row: &str, edit: Edit, plan: crate::Result<Change>) {
        if !matches!(&self.mode, Mode::Planning { row: r } if r == row) {
            // Given up on (Esc) while it was being read.
            return;
        }
        self.mode = match plan {
            Ok(p) if p.is_noop() => Mode::Outcome {
                text: text::nothing_dead(row),
                failed: false,
            },
            Ok(p) => Mode::Confirm {
                text: text::change(&p, &edit, true),
                plan: Box::new(p),
                edit,
            },
            Err(e) => failed(&e),
        };
    }

    /// The change was carried out (or not).
    pub(super) fn done(&mut self, edit: &Edit, done: crate::Result<Change>) {
        self.mode = match done {
            // Every holder found dead has renewed its lease since the plan.
            Ok(c) if c.is_noop() => Mode::Outcome {
                text: text::nothing_dead(&c.row),
                failed: false,
            },
            Ok(c) => Mode::Outcome {
                text: text::change(&c, edit, false),
                failed: false,
            },
            Err(e) => failed(&e),
        };
    }

    // ---- keys -------------------------------------------------------------

    /// What a key does.
    pub(super) fn key(&mut self, k: KeyEvent) -> Action {
        if k.kind == KeyEventKind::Release {
            return Action::Nothing;
        }
        let ctrl_c = k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
        match &mut self.mode {
            // A write under way is seen through: keys wait (it is bounded
            // by --timeout).
            Mode::Applying { .. } => Action::Nothing,
            _ if ctrl_c => Action::Quit,
            Mode::Filter(typed) => {
                match k.code {
                    KeyCode::Enter => {
                        self.filter = std::mem::take(typed);
                        self.mode = Mode::List;
                        self.cursor = 0;
                        self.resync();
                    }
                    KeyCode::Esc => {
                        self.filter.clear();
                        self.mode = Mode::List;
                        self.resync();
                    }
                    KeyCode::Backspace => {
                        typed.pop();
                    }
                    KeyCode::Char(c) if !c.is_control() => typed.push(c),
                    _ => {}
                }
                Action::Nothing
            }
            Mode::Confirm { .. } => {
                let Mode::Confirm { plan, edit, text } =
                    std::mem::replace(&mut self.mode, Mode::List)
                else {
                    return Action::Nothing;
                };
                match k.code {
                    KeyCode::Char('y') | KeyCode::Char('Y') => {
                        self.mode = Mode::Applying { text };
                        Action::CarryOut { plan, edit }
                    }
                    _ => {
                        self.mode = Mode::Outcome {
                            text: "Nothing was changed.\n".into(),
                            failed: false,
                        };
                        Action::Nothing
                    }
                }
            }
            Mode::Outcome { .. } => {
                self.mode = Mode::List;
                Action::Nothing
            }
            Mode::Planning { .. } => {
                if k.code == KeyCode::Esc {
                    self.mode = Mode::List;
                }
                Action::Nothing
            }
            Mode::Detail { key, .. } => match k.code {
                KeyCode::Char('q') => Action::Quit,
                KeyCode::Char('d') => {
                    let row = key.row.clone();
                    self.mode = Mode::Planning { row: row.clone() };
                    Action::Plan(row)
                }
                KeyCode::Esc | KeyCode::Enter | KeyCode::Backspace => {
                    self.mode = Mode::List;
                    Action::Nothing
                }
                _ => Action::Nothing,
            },
            Mode::List => self.list_key(k),
        }
    }

    fn list_key(&mut self, k: KeyEvent) -> Action {
        let page = 10;
        match k.code {
            KeyCode::Char('q') | KeyCode::Esc => return Action::Quit,
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1),
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1),
            KeyCode::PageUp => self.move_by(-page),
            KeyCode::PageDown => self.move_by(page),
            KeyCode::Home | KeyCode::Char('g') => self.move_by(isize::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => self.move_by(isize::MAX / 2),
            KeyCode::Char('s') => {
                self.sort = self.sort.next();
                self.resync();
            }
            KeyCode::Char('/') => self.mode = Mode::Filter(self.filter.clone()),
            KeyCode::Enter => {
                if let Some(key) = self.selected().map(LockKey::of) {
                    let row = key.row.clone();
                    self.mode = Mode::Detail {
                        key,
                        records: Records::Reading,
                    };
                    return Action::History(row);
                }
            }
            KeyCode::Char('d') => {
                if let Some(row) = self.selected().map(|h| h.row.clone()) {
                    self.mode = Mode::Planning { row: row.clone() };
                    return Action::Plan(row);
                }
            }
            _ => {}
        }
        Action::Nothing
    }
}

/// Whether a lock's row, name or holder (as shown) holds `needle`
/// (lower-case), whatever the case.
fn matches(h: &Held, needle: &str) -> bool {
    [
        shown_id(&h.row).into_owned(),
        shown(&h.entry.shown_name()).into_owned(),
        shown(&h.entry.holder_text()).into_owned(),
    ]
    .iter()
    .any(|t| t.to_lowercase().contains(needle))
}

/// The registered waiters a lock holds up: those with it in their way.
pub(super) fn waiters_of<'a>(s: &'a Snapshot, h: &Held) -> Vec<&'a Waiter> {
    let (name, holder) = (h.entry.shown_name(), h.entry.holder_text());
    s.waiters
        .iter()
        .filter(|w| {
            w.registration.row == h.row
                && w.blocked_by
                    .iter()
                    .any(|(n, by)| *n == name && *by == holder)
        })
        .collect()
}

/// What an operator's probe said of the holders of `row` that locksmith
/// did not register, as `force-release --dead --probe` hands them to the
/// edit (none without a probe: they stay unknown).
pub(super) fn probed_in(s: Option<&Snapshot>, row: &str) -> Vec<(String, Liveness)> {
    s.into_iter()
        .flat_map(|s| s.held_in(row))
        .filter(|h| h.registration.is_none() && h.liveness.state != Verdict::Unknown)
        .map(|h| (h.entry.holder_text(), h.liveness.clone()))
        .collect()
}

/// The outcome of a failed operation: its message as `locksmith: …` lines.
fn failed(e: &crate::Error) -> Mode {
    let text: String = error_text(e)
        .lines()
        .map(|l| format!("locksmith: {}\n", shown(l)))
        .collect();
    Mode::Outcome { text, failed: true }
}

fn first_line(s: &str) -> String {
    shown(s.lines().next().unwrap_or_default()).into_owned()
}

#[cfg(test)]
pub(super) mod tests;

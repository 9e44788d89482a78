use super::*;
use crate::liveness::{Registration, Stage};
use crate::locks::{Entry, LockData, RowState, Version};
use ratatui::crossterm::event::KeyEvent;

/// Server time of the test snapshots: 2026-11-26T06:41:12Z.
pub(crate) const NOW_US: i64 = 1_795_675_272_000_000;

pub(crate) fn registration(holder: &str, row: &str, lock: &str, stage: Stage) -> Registration {
    Registration {
        holder: holder.into(),
        row: row.into(),
        lock: lock.into(),
        stage,
        since_us: NOW_US - 12_000_000,
        host: "vm".into(),
        pid: 4242,
        pid_start: None,
        boot_id: None,
        started_us: None,
        lease_ms: Some(30_000),
        beat_us: NOW_US - 2_000_000,
        fence: Some(5),
        unless_held: Vec::new(),
        command: Some("locksmith locks run platform update -- ./update.sh".into()),
        read_us: NOW_US,
    }
}

pub(crate) fn held(row: &str, name: &str, holder: &str, age_secs: i64, state: Verdict) -> Held {
    Held {
        row: row.into(),
        entry: Entry::new(name, holder),
        liveness: Liveness {
            state,
            why: match state {
                Verdict::Dead => "on this host, PID 15380 is gone".into(),
                Verdict::Alive => "heartbeat 2s ago, lease 30s (server clock)".into(),
                Verdict::Unknown => "not registered by locksmith".into(),
            },
            evidence: None,
        },
        registration: None,
        since_us: Some(NOW_US - age_secs * 1_000_000),
        since_exact: false,
    }
}

/// A snapshot of these locks (and rows holding them), with `waiters`.
pub(crate) fn snapshot(held: Vec<Held>, waiters: Vec<Waiter>) -> Snapshot {
    let mut rows: Vec<String> = held.iter().map(|h| h.row.clone()).collect();
    rows.dedup();
    Snapshot {
        rows: rows
            .into_iter()
            .map(|id| RowState {
                id,
                version: Version::Number(4),
                data: LockData::parse(Some("{}")),
                stored: Some("{}".into()),
                changed_at: Some(NOW_US / 1_000_000 - 60),
                read_at: NOW_US / 1_000_000,
            })
            .collect(),
        registry: Some(Vec::new()),
        now_us: NOW_US,
        held,
        waiters,
        deadlocks: Vec::new(),
    }
}

pub(crate) fn ui_of(s: Snapshot) -> Ui {
    let mut ui = Ui::new(
        "mysql://box:***@db:3306/box".into(),
        Duration::from_secs(1),
        Duration::from_secs(3600),
    );
    ui.observed(s);
    ui
}

fn press(ui: &mut Ui, code: KeyCode) -> Action {
    ui.key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn names(ui: &Ui) -> Vec<String> {
    ui.visible()
        .iter()
        .map(|h| h.entry.shown_name().into_owned())
        .collect()
}

fn three() -> Ui {
    ui_of(snapshot(
        vec![
            held("platform", "app_b", "task-2", 30, Verdict::Unknown),
            held("apps", "backup", "vm:15380", 7900, Verdict::Dead),
            held("platform", "app_a", "task-1", 600, Verdict::Alive),
        ],
        Vec::new(),
    ))
}

#[test]
fn sorted_by_age_then_row_then_holder() {
    let mut ui = three();
    assert_eq!(names(&ui), ["backup", "app_a", "app_b"]);
    press(&mut ui, KeyCode::Char('s'));
    assert_eq!(ui.sort, Sort::Row);
    assert_eq!(names(&ui), ["backup", "app_b", "app_a"]);
    press(&mut ui, KeyCode::Char('s'));
    assert_eq!(names(&ui), ["app_a", "app_b", "backup"]);
    press(&mut ui, KeyCode::Char('s'));
    assert_eq!(ui.sort, Sort::Age);
}

#[test]
fn the_selection_follows_its_lock() {
    let mut ui = three();
    press(&mut ui, KeyCode::Down);
    assert_eq!(
        ui.selected().map(|h| h.entry.holder_text()).as_deref(),
        Some("task-1")
    );
    press(&mut ui, KeyCode::Char('s'));
    assert_eq!(ui.cursor, 2, "app_a is last by row");
    assert_eq!(
        ui.selected().map(|h| h.entry.holder_text()).as_deref(),
        Some("task-1")
    );
    // A refresh without it keeps the place, clamped.
    ui.observed(snapshot(
        vec![held("platform", "app_b", "task-2", 31, Verdict::Unknown)],
        Vec::new(),
    ));
    assert_eq!(ui.cursor, 0);
    press(&mut ui, KeyCode::End);
    press(&mut ui, KeyCode::PageUp);
    assert_eq!(ui.cursor, 0);
}

#[test]
fn a_filter_applies_on_enter_and_esc_clears_it() {
    let mut ui = three();
    press(&mut ui, KeyCode::Char('/'));
    for c in "TASK".chars() {
        press(&mut ui, KeyCode::Char(c));
    }
    assert!(matches!(&ui.mode, Mode::Filter(t) if t == "TASK"));
    assert_eq!(names(&ui).len(), 3, "not applied while typed");
    press(&mut ui, KeyCode::Enter);
    assert_eq!(names(&ui), ["app_a", "app_b"]);
    press(&mut ui, KeyCode::Char('/'));
    press(&mut ui, KeyCode::Backspace);
    press(&mut ui, KeyCode::Esc);
    assert_eq!((ui.filter.as_str(), names(&ui).len()), ("", 3));
    assert!(matches!(press(&mut ui, KeyCode::Esc), Action::Quit));
}

#[test]
fn detail_asks_for_the_rows_records() {
    let mut ui = three();
    match press(&mut ui, KeyCode::Enter) {
        Action::History(row) => assert_eq!(row, "apps"),
        a => panic!("{a:?}"),
    }
    ui.history("apps", Ok(Vec::new()));
    assert!(matches!(
        &ui.mode,
        Mode::Detail { records: Records::Read(r), .. } if r.is_empty()
    ));
    press(&mut ui, KeyCode::Esc);
    assert!(matches!(ui.mode, Mode::List));
    assert!(matches!(press(&mut ui, KeyCode::Char('q')), Action::Quit));
}

#[test]
fn d_plans_then_asks_and_only_y_carries_it_out() {
    let mut ui = three();
    assert!(matches!(press(&mut ui, KeyCode::Char('d')), Action::Plan(r) if r == "apps"));
    let plan = Change {
        row: "apps".into(),
        version_before: Version::Number(4),
        version_after: 5,
        removed: crate::locks::Locks::from_entries([Entry::new("backup", "vm:15380")]),
        replaced_raw: None,
        remaining: crate::locks::Locks::new(),
        raw_kept: false,
        repairs: Vec::new(),
        dry_run: true,
        evidence: vec![("backup".into(), "on this host, PID 15380 is gone".into())],
    };
    ui.planned("apps", Edit::Dead(Vec::new()), Ok(plan.clone()));
    let Mode::Confirm { text, .. } = &ui.mode else {
        panic!("{:?}", ui.mode)
    };
    assert_eq!(
        text,
        "row `apps`: version 4 -> 5 (planned)\nrelease backup (held by vm:15380): dead: on this host, PID 15380 is gone\n0 lock(s) remain\n"
    );
    // Anything but y declines.
    press(&mut ui, KeyCode::Char('n'));
    assert!(matches!(&ui.mode, Mode::Outcome { text, .. } if text == "Nothing was changed.\n"));
    press(&mut ui, KeyCode::Char('x'));
    assert!(matches!(ui.mode, Mode::List));
    press(&mut ui, KeyCode::Char('d'));
    ui.planned("apps", Edit::Dead(Vec::new()), Ok(plan.clone()));
    assert!(matches!(
        press(&mut ui, KeyCode::Char('y')),
        Action::CarryOut { .. }
    ));
    assert!(
        matches!(press(&mut ui, KeyCode::Char('q')), Action::Nothing),
        "keys wait for the write"
    );
    let mut done = plan;
    done.dry_run = false;
    ui.done(&Edit::Dead(Vec::new()), Ok(done));
    assert!(
        matches!(&ui.mode, Mode::Outcome { text, failed: false } if text.starts_with("row `apps`: version 4 -> 5\nreleased backup"))
    );
}

#[test]
fn a_lost_connection_counts_its_tries() {
    let mut ui = three();
    let e: crate::Error = crate::error::Kind::Internal("boom\nhint: x".into()).into();
    ui.slow(Duration::from_secs(3));
    assert_eq!(ui.link, Link::Slow { secs: 3 });
    ui.lost(&e);
    ui.lost(&e);
    assert!(
        matches!(&ui.link, Link::Lost { tries: 2, why, connection: false } if !why.contains('\n'))
    );
    ui.lost(&crate::error::Kind::Lost("gone".into()).into());
    assert!(matches!(
        &ui.link,
        Link::Lost {
            tries: 3,
            connection: true,
            ..
        }
    ));
    ui.observed(snapshot(Vec::new(), Vec::new()));
    assert_eq!(ui.link, Link::Up);
}

#[test]
fn waiters_are_found_behind_the_lock_in_their_way() {
    let h = held("platform", "update", "vm:1", 60, Verdict::Alive);
    let w = Waiter {
        registration: registration("vm:2", "platform", "backup", Stage::Waits),
        liveness: Liveness::unknown("x"),
        blocked_by: vec![("update".into(), "vm:1".into())],
    };
    let s = snapshot(vec![h.clone()], vec![w]);
    assert_eq!(waiters_of(&s, &h).len(), 1);
    let other = held("platform", "update", "vm:3", 60, Verdict::Alive);
    assert!(waiters_of(&s, &other).is_empty());
}

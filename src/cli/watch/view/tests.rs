use super::super::state::tests::*;
use super::*;
use crate::liveness::{Liveness, Stage};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn dead_and_waiter() -> Ui {
    let mut dead = held("platform", "backup", "vm:15380", 7_860, Verdict::Dead);
    dead.registration = Some(registration("vm:15380", "platform", "backup", Stage::Holds));
    dead.since_exact = true;
    let alive = held("platform", "app_mail", "task-7", 65, Verdict::Alive);
    let w = Waiter {
        registration: registration("vm:99", "platform", "backup", Stage::Waits),
        liveness: Liveness {
            state: Verdict::Alive,
            why: "PID 99 is running on this host".into(),
            evidence: None,
        },
        blocked_by: vec![("backup".into(), "vm:15380".into())],
    };
    ui_of(snapshot(vec![alive, dead], vec![w]))
}

#[test]
fn the_list_shows_each_lock_its_verdict_age_and_waiters() {
    let ui = dead_and_waiter();
    let s = screen(&ui, 120, 20);
    assert_eq!(
        s[0],
        "locksmith locks watch: mysql://box:***@db:3306/box, every 1s, server time 2026-11-26T06:41:12Z"
    );
    assert_eq!(
        s[1],
        "2 held in 1 row(s): 1 dead, 1 older than 1h; 1 waiting"
    );
    assert_eq!(s[2], "ROW       LOCK      HOLDER    LIVENESS                                         AGE      WAITERS");
    assert_eq!(s[3], "platform  backup    vm:15380  dead: on this host, PID 15380 is gone            2h11m!   vm:99 wants backup, 12s");
    assert_eq!(
        s[4],
        "platform  app_mail  task-7    alive: heartbeat 2s ago, lease 30s (server cloc  >=1m05s"
    );
    assert_eq!(s[5], "");
    assert_eq!(s[17], "WAITING (1)");
    assert_eq!(
        s[18],
        "vm:99 waits 12s for backup in platform, blocked by backup (held by vm:15380); alive: PID 99 is running on this host; sin"
    );
    assert_eq!(
        s[19],
        " q quit  / filter  Enter detail  d release dead  s sort: age  Up/Down select"
    );
}

#[test]
fn a_narrower_terminal_relays_the_table() {
    let ui = dead_and_waiter();
    let wide = screen(&ui, 120, 20);
    let narrow = screen(&ui, 80, 20);
    let at = |s: &[String]| s[2].find("WAITERS");
    assert!(at(&narrow) < at(&wide), "{narrow:#?}");
    assert!(narrow.iter().all(|l| l.chars().count() <= 80));
    assert!(
        narrow[3].starts_with("platform  backup    vm:15380  dead: on this"),
        "{narrow:#?}"
    );
    // Very small: still draws, the keys last.
    let tiny = screen(&ui, 30, 6);
    assert!(tiny[5].starts_with(" q quit"), "{tiny:#?}");
    // Smaller than anything useful: drawn without a panic all the same.
    for (w, h) in [(10, 2), (1, 1), (200, 3)] {
        assert_eq!(screen(&ui, w, h).len(), h as usize);
    }
}

#[test]
fn stored_text_is_escaped_as_in_dump() {
    let ui = ui_of(snapshot(
        vec![held(
            "pl\u{1b}[31mat",
            "b\nx",
            "vm\u{202e}:1",
            5,
            Verdict::Unknown,
        )],
        Vec::new(),
    ));
    let s = screen(&ui, 120, 8);
    assert!(
        s[3].starts_with("pl\\u{1b}[31mat  b\\nx  vm\\u{202e}:1  unknown"),
        "{s:#?}"
    );
}

#[test]
fn the_detail_shows_the_raw_holder_the_registry_and_the_records() {
    let mut ui = dead_and_waiter();
    ui.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let s = screen(&ui, 120, 24);
    let body = s.join("\n");
    for want in [
        "Lock `backup` in row `platform`",
        "  holder, as stored   \"vm:15380\"",
        "  liveness            dead: on this host, PID 15380 is gone",
        "  held since          2026-11-26T04:30:12Z (when it was taken, by the registry)",
        "  age                 2h11m!",
        "  registry            host vm, pid 4242, lease 30s, heartbeat 2s ago, fence 5",
        "  command             locksmith locks run platform update -- ./update.sh",
        "  waiters             vm:99 waits 12s for backup in platform, blocked by backup",
        "Last audit records of row `platform` (locksmith locks history platform):",
        "  reading...",
        " Esc back  d release the dead holders of this row  q quit",
    ] {
        assert!(body.contains(want), "{want:?} not in:\n{body}");
    }
}

#[test]
fn a_lost_connection_keeps_the_locks_under_a_status_line() {
    let mut ui = dead_and_waiter();
    ui.lost(&crate::error::Kind::Lost("Connection refused (os error 111)".into()).into());
    let s = screen(&ui, 120, 20);
    assert_eq!(
        [s[1].as_str(), s[2].as_str()],
        [
            "connection lost, reconnecting (try 1): lost the connection to the server: Connection refused (os error 111); locks as of",
            "2026-11-26T06:41:12Z"
        ]
    );
    assert!(s[4].starts_with("platform  backup"), "{s:#?}");
}

#[test]
fn deadlocks_are_on_top() {
    let mut s = snapshot(
        vec![held("platform", "a", "h1", 5, Verdict::Alive)],
        Vec::new(),
    );
    s.deadlocks = vec![vec!["h1".into(), "h2".into()]];
    let s = screen(&ui_of(s), 120, 10);
    assert_eq!(
        s[2],
        "DEADLOCK: h1 -> h2 -> h1 (each waits for a lock the next holds; none can go on)"
    );
}

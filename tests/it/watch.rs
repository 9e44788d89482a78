//! `locks watch`, the live screen, run in a real terminal (tmux, see
//! `harness::tmux`) against a real server: what it shows of a held lock and
//! its waiter, a resize, the filter, `d` on a dead holder (plan, y, audit
//! record), a server restart under it, and the terminal left as it was
//! found after `q`. Without a terminal, and with `--once`, it prints what
//! `locks dump --waiters` prints.

use crate::harness::*;
use locksmith::cli::output::{Dump, HistoryDoc};
use nix::sys::signal::Signal;
use std::time::Duration;

/// A process of the test's, killed (SIGKILL) if the test ends, or fails,
/// while it still runs.
struct Reaped(Option<std::process::Child>);

impl Reaped {
    fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, |c| c.id())
    }

    /// Waits for it to exit; its run.
    fn finish(mut self) -> Run {
        Run::from(self.0.take().unwrap().wait_with_output().unwrap())
    }
}

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The line of the screen about lock `name`.
fn line_of<'a>(screen: &'a str, name: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(name))
        .unwrap_or_else(|| panic!("no line for {name}:\n{screen}"))
}

/// After `q`: the command exited 0 and the terminal is back as it was: the
/// normal screen (with the shell on it), the cursor shown.
#[track_caller]
fn quits_clean(t: &Tmux) {
    t.keys(&["q"]);
    assert_eq!(t.exit_status(), 0, "{}", t.screen());
    assert_eq!(t.display("#{alternate_on} #{cursor_flag}"), "0 1");
    let screen = t.screen();
    assert!(
        screen
            .lines()
            .any(|l| l.starts_with("$ locksmith ") && l.contains(" watch")),
        "{screen}"
    );
}

/// Waits until someone is registered as waiting for a lock.
fn wait_for_a_waiter(db: &TestDb) {
    wait_until("a registered waiter", Duration::from_secs(30), || {
        let doc: Dump = db
            .locksmith(&["locks", "dump", "--waiters", "--format", "json"])
            .success_json();
        !doc.waiters.is_empty()
    });
}

#[test]
fn watch_shows_a_held_lock_its_age_and_its_waiter_relays_filters_and_quits_clean() {
    let db = TestDb::migrated();
    let holder =
        Reaped(Some(db.spawn(&[
            "locks", "run", "platform", "backup", "--", "sleep", "600",
        ])));
    wait_until("backup held", Duration::from_secs(30), || {
        db.locks_held().iter().any(|(_, n, _)| n == "backup")
    });
    let waiter = Reaped(Some(db.spawn(&[
        "locks", "run", "platform", "backup", "--wait", "5m", "--", "true",
    ])));
    wait_for_a_waiter(&db);
    let (hpid, wpid) = (holder.id(), waiter.id());
    let host = locksmith::host::hostname();

    let t = Tmux::start(120, 30, &db.url());
    t.run("locksmith locks watch --interval 300ms");
    let screen = t.wait_for("the lock and its waiter", |s| s.contains(" wants backup, "));
    assert_eq!(t.display("#{alternate_on} #{cursor_flag}"), "1 0");
    let lines: Vec<&str> = screen.lines().collect();
    assert!(
        lines[0].starts_with("locksmith locks watch: mysql://"),
        "{screen}"
    );
    assert!(
        lines[1] == "1 held in 1 row(s): 0 dead, 0 older than 1h; 1 waiting",
        "{screen}"
    );
    let header = lines[2];
    let words: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        words,
        ["ROW", "LOCK", "HOLDER", "LIVENESS", "AGE", "WAITERS"]
    );
    // The holder is `locks run`'s HOST:PID, alive by its process; its age
    // ticks in seconds; the waiter queued behind it, and since how long.
    let line = line_of(&screen, "backup");
    let age = regex::Regex::new(&format!(
        r"^platform +backup +{host}:{hpid} +alive: PID {hpid} is running on this host; .* +\d+s +{host}:{wpid} wants backup, \d+s$"
    ))
    .unwrap();
    assert!(age.is_match(line), "{line:?}");
    assert!(
        screen.contains(&format!("WAITING (1)\n{host}:{wpid} waits ")),
        "{screen}"
    );
    assert!(
        screen.contains(&format!(
            " for backup in platform, blocked by backup (held by {host}:{hpid}); alive: PID {wpid}"
        )),
        "{screen}"
    );
    let keys = screen.lines().last().unwrap();
    assert_eq!(
        keys,
        " q quit  / filter  Enter detail  d release dead  s sort: age  Up/Down select"
    );

    // A narrower window: the table is laid out again to fit it.
    let at = |s: &str| s.lines().nth(2).and_then(|l| l.find("WAITERS"));
    let wide = at(&screen).unwrap();
    t.resize(80, 24);
    let narrow = t.wait_for("the table laid out for 80 columns", |s| {
        at(s).is_some_and(|x| x < wide) && s.lines().count() == 24
    });
    assert!(narrow.lines().all(|l| l.chars().count() <= 80), "{narrow}");
    assert!(
        line_of(&narrow, "backup").starts_with("platform  backup"),
        "{narrow}"
    );
    assert!(
        narrow
            .lines()
            .last()
            .unwrap()
            .starts_with(" q quit  / filter"),
        "{narrow}"
    );

    // `/` filters: typed text is applied on Enter; Esc clears it.
    t.keys(&["/"]);
    t.type_text("nomatch");
    t.wait_for("the filter being typed", |s| {
        s.lines().last() == Some(" filter: nomatch_   Enter apply  Esc clear")
    });
    t.keys(&["Enter"]);
    t.wait_for("nothing matching", |s| {
        // (The status line wraps at 80 columns.)
        s.contains("No lock matches the filter `nomatch`.")
            && s.replace('\n', " ").contains("filter `nomatch`: 0 shown")
    });
    t.keys(&["/", "Escape"]);
    t.wait_for("the filter cleared", |s| {
        s.contains("platform  backup") && !s.contains("filter `")
    });
    t.keys(&["/"]);
    t.type_text("BACK");
    t.keys(&["Enter"]);
    t.wait_for("the filter applied", |s| {
        s.replace('\n', " ").contains("filter `BACK`: 1 shown") && s.contains("platform  backup")
    });

    quits_clean(&t);
    signal(hpid, Signal::SIGTERM);
    holder.finish();
    // The waiter gets the lock then, runs `true` and releases it.
    let r = waiter.finish();
    assert_eq!(r.code, 0, "{r:#?}");
    assert_eq!(db.locks_held(), []);
}

#[test]
fn d_releases_a_dead_holder_after_showing_the_plan_and_records_it() {
    let db = TestDb::migrated();
    // A holder whose process is gone (its lock outlived it), and a live one.
    let gone = Reaped(Some(
        std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap(),
    ));
    let pid = gone.id().to_string();
    db.locksmith(&[
        "locks",
        "acquire",
        "platform",
        "backup",
        "--holder",
        "vm:15380",
        "--holder-pid",
        &pid,
    ])
    .success();
    drop(gone); // killed and reaped: gone from this host
    db.locksmith(&[
        "locks", "acquire", "platform", "app_mail", "--holder", "task-7",
    ])
    .success();
    let plan = db
        .locksmith(&["locks", "force-release", "platform", "--dead", "--dry-run"])
        .stdout
        .replace("Dry run: nothing was changed.\n", "");
    assert!(
        plan.contains("release backup (held by vm:15380): dead: "),
        "{plan}"
    );

    let t = Tmux::start(120, 30, &db.url());
    t.run("locksmith locks watch --interval 300ms");
    let dead = format!("dead: on this host, PID {pid} is gone");
    let screen = t.wait_for("the dead holder", |s| s.contains(&dead));
    assert!(
        screen.lines().nth(1).unwrap().contains(": 1 dead, "),
        "{screen}"
    );
    assert!(line_of(&screen, "app_mail").contains("alive: "), "{screen}");
    // Select it (the filter leaves it alone on the screen), then `d`.
    t.keys(&["/"]);
    t.type_text("backup");
    t.keys(&["Enter"]);
    t.wait_for("backup alone", |s| s.contains("filter `backup`: 1 shown"));
    t.keys(&["d"]);
    // The same plan as `locks force-release platform --dead` shows.
    let asked = t.wait_for("the plan and its question", |s| {
        s.contains("Proceed? [y/N]")
    });
    let want = format!("locks force-release platform --dead\n{plan}\nProceed? [y/N]");
    assert!(asked.contains(&want), "{want:?} not in:\n{asked}");
    assert_eq!(
        asked.lines().last(),
        Some(" y release  any other key: change nothing")
    );
    let version = db.version("platform");
    t.keys(&["y"]);
    let done = t.wait_for("the outcome", |s| {
        s.contains("released backup (held by vm:15380)")
    });
    assert!(
        done.contains(&format!(
            "row `platform`: version {version} -> {}\nreleased backup (held by vm:15380): {dead}\n1 lock(s) remain\n",
            version + 1
        )),
        "{done}"
    );
    // Back to the list: the dead holder is gone, the live one stays.
    t.keys(&["x", "/", "Escape"]);
    t.wait_for("the list without backup", |s| {
        s.contains("platform  app_mail")
            && !s.contains("platform  backup")
            && s.contains(": 0 dead, ")
    });
    assert_eq!(
        db.locks_held(),
        [("platform".into(), "app_mail".into(), "task-7".into())]
    );
    let doc: HistoryDoc = db
        .locksmith(&["locks", "history", "platform", "--format", "json"])
        .success_json();
    let r = doc.records.last().unwrap();
    assert_eq!(r.action, "release-dead");
    assert_eq!(
        json(r.removed.as_ref().unwrap()),
        serde_json::json!({"backup": "vm:15380"})
    );
    assert!(
        r.command.ends_with(
            "locks watch --interval 300ms (key d: locksmith locks force-release platform --dead)"
        ),
        "{}",
        r.command
    );
    assert_eq!(
        json(r.evidence.as_ref().unwrap()),
        serde_json::json!({"backup": format!("on this host, PID {pid} is gone")})
    );
    // Enter on the live lock shows its detail, and that record.
    t.keys(&["Enter"]);
    let detail = t.wait_for("the detail with the record", |s| {
        s.contains("release-dead platform: ")
    });
    assert!(
        detail.contains("Lock `app_mail` in row `platform`"),
        "{detail}"
    );
    assert!(
        detail.contains("  holder, as stored   \"task-7\""),
        "{detail}"
    );
    assert!(detail.contains("  registry            host "), "{detail}");
    t.keys(&["Escape"]);
    t.wait_for("the list again", |s| s.contains("platform  app_mail"));
    quits_clean(&t);
}

#[test]
fn a_server_restart_shows_as_a_status_line_then_the_locks_come_back() {
    let mut server = Throwaway::start(1, &[]);
    let db = TestDb::on(&server, 0);
    db.locksmith(&["migrate", "up"]).succeeds_with(UP_FRESH);
    db.locksmith(&["locks", "acquire", "platform", "backup", "--holder", "t1"])
        .success();
    let t = Tmux::start(120, 30, &db.url());
    t.run("locksmith --timeout 2s locks watch --interval 300ms");
    t.wait_for("the lock", |s| s.contains("platform  backup"));
    server.kill(0);
    let lost = t.wait_for("the lost connection", |s| {
        s.lines().nth(1).is_some_and(|l| {
            l.starts_with("connection lost, reconnecting")
                || l.starts_with("no answer from the server")
        })
    });
    // The last locks stay on the screen meanwhile.
    assert!(lost.contains("platform  backup"), "{lost}");
    server.restart(0);
    t.wait_for("the locks again", |s| {
        s.lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("1 held in 1 row(s): "))
            && s.contains("platform  backup")
    });
    quits_clean(&t);
}

#[test]
fn without_a_terminal_or_with_once_it_prints_what_dump_waiters_prints() {
    let db = TestDb::migrated();
    db.sql(r#"INSERT INTO locks (id, dataJson) VALUES ('platform', '{"backup":"task-9","app_a":"task-1"}'), ('quiet', '{}')"#);
    let expected = format!(
        "{}Nobody waits.\n",
        dump_table(&[
            "platform backup task-9 unknown: not registered by locksmith 1",
            "platform app_a task-1 unknown: not registered by locksmith 1",
            "quiet (no locks) 1",
        ])
    );
    let piped = db.locksmith(&["locks", "watch"]);
    piped.succeeds_like(&expected);
    db.locksmith(&["locks", "watch", "--once", "platform", "quiet"])
        .succeeds_like(&expected);
    // The same as `locks dump --waiters`, also with a waiter.
    let waiter = Reaped(Some(db.spawn(&[
        "locks", "run", "platform", "backup", "--wait", "5m", "--", "true",
    ])));
    wait_for_a_waiter(&db);
    let watch = db.locksmith(&["locks", "watch", "--once"]);
    let dump = db.locksmith(&["locks", "dump", "--waiters"]);
    let heartbeat = regex::Regex::new(r"heartbeat \S+ ago").unwrap();
    let same = |r: &Run| {
        heartbeat
            .replace_all(&normal(&r.stdout), "heartbeat <D> ago")
            .into_owned()
    };
    assert_eq!(same(&watch), same(&dump), "{watch:#?}");
    assert!(
        watch.stdout.contains("backup (held by task-9)"),
        "{watch:#?}"
    );
    // On a terminal, --once prints the tables there and leaves the screen
    // alone.
    let t = Tmux::start(200, 30, &db.url());
    t.run("locksmith locks watch --once");
    assert_eq!(t.exit_status(), 0);
    let screen = t.screen();
    assert!(screen.contains("│ platform ┆ app_a "), "{screen}");
    assert_eq!(t.display("#{alternate_on} #{cursor_flag}"), "0 1");
    db.sql(r#"UPDATE locks SET dataJson = '{"app_a":"task-1"}', version = version + 1 WHERE id = 'platform'"#);
    let r = waiter.finish();
    assert_eq!(r.code, 0, "{r:#?}");
}

#[test]
fn sigterm_ends_it_with_the_terminal_restored() {
    let db = TestDb::migrated();
    db.locksmith(&["locks", "acquire", "platform", "backup", "--holder", "t1"])
        .success();
    let t = Tmux::start(120, 30, &db.url());
    t.run("locksmith locks watch");
    t.wait_for("the lock", |s| s.contains("platform  backup"));
    // locksmith is the shell's child in the pane.
    let shell = t.display("#{pane_pid}");
    let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
    let pid: u32 = children.split_whitespace().next().unwrap().parse().unwrap();
    signal(pid, Signal::SIGTERM);
    assert_eq!(t.exit_status(), 143, "{}", t.screen());
    assert_eq!(t.display("#{alternate_on} #{cursor_flag}"), "0 1");
    let screen = t.screen();
    assert!(
        screen.contains("locksmith: interrupted by SIGTERM"),
        "{screen}"
    );
}

#[test]
fn a_deadlock_is_shown_on_top() {
    let db = TestDb::migrated();
    // h1 holds x and waits for y; h2 holds y and waits for x.
    for (lock, holder) in [("x", "h1"), ("y", "h2")] {
        db.locksmith(&["locks", "acquire", "platform", lock, "--holder", holder])
            .success();
    }
    let waits: Vec<Reaped> = [("y", "h1"), ("x", "h2")]
        .iter()
        .map(|(lock, holder)| {
            Reaped(Some(db.spawn(&[
                "locks", "acquire", "platform", lock, "--holder", holder, "--wait", "5m",
            ])))
        })
        .collect();
    let t = Tmux::start(120, 30, &db.url());
    t.run("locksmith locks watch --interval 300ms");
    let screen = t.wait_for("the deadlock", |s| s.contains("DEADLOCK"));
    assert_eq!(
        screen.lines().nth(2),
        Some("DEADLOCK: h1 -> h2 -> h1 (each waits for a lock the next holds; none can go on)"),
        "{screen}"
    );
    assert!(screen.contains("WAITING (2)"), "{screen}");
    quits_clean(&t);
    drop(waits);
}

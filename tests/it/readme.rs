//! The README's transcripts are real: its incident walk-through and its
//! backup-versus-update example are replayed here against a real server and
//! compared with what locksmith prints. Only what cannot be the same on two
//! runs is normalised (times, ages, who ran it, table widths).

use crate::harness::*;
use std::io::{BufRead, BufReader, Read};

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// The text of the README section under `heading`, up to the next heading
/// (a `#` line outside code blocks).
fn section(heading: &str) -> String {
    let text = readme();
    let mut lines = text.lines().skip_while(|l| *l != heading);
    assert!(lines.next().is_some(), "README has no {heading:?}");
    let mut in_code = false;
    let mut out = String::new();
    for line in lines {
        if line.starts_with("```") {
            in_code = !in_code;
        } else if line.starts_with('#') && !in_code {
            break;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// One `$ locksmith …` line of a transcript and what it printed.
#[derive(Debug)]
struct Step {
    args: Vec<String>,
    output: String,
}

/// The transcript steps in the unlabelled code blocks of `text`.
fn steps(text: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_block = line == "```" && !in_block;
            continue;
        }
        if !in_block {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ locksmith ") {
            steps.push(Step {
                args: shell_words::split(cmd).unwrap(),
                output: String::new(),
            });
        } else if let Some(step) = steps.last_mut() {
            step.output.push_str(line);
            step.output.push('\n');
        }
    }
    steps
}

/// What may differ between two runs, made the same.
fn normal(text: &str) -> String {
    let subs: [(&str, &str); 5] = [
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<TIME>"),
        (r"\b\d+[dhm]\d\dm?[hms]\b|\b\d+m?s\b", "<AGE>"),
        (r"\S+@\S+ \(\S+@%\)", "<WHO>"),
        (r"[-=─═]{2,}", "-"),
        (r"[ \t]+", " "),
    ];
    let mut t = text.replace("\r\n", "\n");
    for (re, to) in subs {
        t = regex::Regex::new(re)
            .unwrap()
            .replace_all(&t, to)
            .into_owned();
    }
    t.lines().map(str::trim).collect::<Vec<_>>().join("\n")
}

/// Runs a step whose transcript shows the confirmation prompt on a real
/// terminal, answering as the transcript does once the prompt is shown.
fn on_terminal(db: &TestDb, step: &Step) -> (i32, String) {
    let answer = step
        .output
        .lines()
        .find_map(|l| l.strip_prefix("Proceed? [y/N] "))
        .expect("a prompt step shows its answer");
    let quoted: Vec<String> = step
        .args
        .iter()
        .map(|a| shell_words::quote(a).into_owned())
        .collect();
    db.answer_prompt(&quoted.join(" "), answer, || {})
}

/// Runs a step on a terminal 240 columns wide; its exit status and what it
/// showed, colours removed.
fn table_on_terminal(db: &TestDb, step: &Step) -> (i32, String) {
    let quoted: Vec<String> = step
        .args
        .iter()
        .map(|a| shell_words::quote(a).into_owned())
        .collect();
    let mut child = db.spawn_on_tty_sized(Some(240), &quoted.join(" "));
    let mut seen = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut seen)
        .unwrap();
    let status = child.wait().unwrap();
    let colour = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
    (
        status.code().unwrap_or(-1),
        colour.replace_all(&seen, "").into_owned(),
    )
}

#[test]
fn the_incident_walk_through_is_what_locksmith_prints() {
    let db = TestDb::migrated();
    // A backup task was killed mid-run, leaving `backup` held by vm:15380
    // at version 4, a while ago, its lease long run out; an app task on
    // web2 holds `app_task_7` and renewed its lease a moment ago.
    db.sql(
        r#"INSERT INTO locks (id, dataJson, version, ts)
           VALUES ('platform', '{"app_task_7":"web2:812","backup":"vm:15380"}', 4,
                   NOW() - INTERVAL 131 MINUTE)"#,
    );
    db.sql(
        r#"INSERT INTO locks_holders
             (holder, rowId, lockName, state, since, host, pid, pidStart, bootId, leaseMs, beat, fence, command)
           VALUES
             ('vm:15380', 'platform', 'backup', 'holds', UTC_TIMESTAMP(6) - INTERVAL 131 MINUTE,
              'vm', 15380, 8812345, 'a-boot', 30000,
              UTC_TIMESTAMP(6) - INTERVAL 131 MINUTE + INTERVAL 20 SECOND, 3,
              'locksmith locks run platform backup -- /usr/local/bin/backup.sh'),
             ('web2:812', 'platform', 'app_task_7', 'holds', UTC_TIMESTAMP(6) - INTERVAL 140 MINUTE,
              'web2', 812, 4417, 'another-boot', 30000, UTC_TIMESTAMP(6) - INTERVAL 2 SECOND, 2,
              'locksmith locks run platform app_task_7 -- ./apptask.sh 7')"#,
    );
    let steps = steps(&section("### An incident, step by step"));
    assert!(steps.len() >= 4, "{steps:?}");
    for step in &steps {
        let (code, got) = if step.output.contains("Proceed? [y/N]") {
            on_terminal(&db, step)
        } else if step.output.contains('┌') {
            // A table as a terminal shows it (UTF-8 boxes), on one wide
            // enough that nothing wraps (tests/it/widths.rs does narrow).
            table_on_terminal(&db, step)
        } else {
            let args: Vec<&str> = step.args.iter().map(String::as_str).collect();
            // Quiet on stderr; stdout is compared whole below.
            let r = db.locksmith(&args);
            assert_eq!(r.stderr, "", "{step:?}: {r:#?}");
            (r.code, r.stdout.clone())
        };
        assert_eq!(code, 0, "{step:?}: {got}");
        assert_eq!(normal(&got), normal(&step.output), "{step:?}\n{got}");
    }
    assert_eq!(
        db.data("platform").as_deref(),
        Some(r#"{"app_task_7":"web2:812"}"#)
    );
}

#[test]
fn backup_waits_for_the_update_with_the_line_the_readme_shows() {
    let db = TestDb::migrated();
    let text = section("### Backup versus update");
    // What a backup prints while the update runs, as the README quotes it.
    let quoted = regex::Regex::new(r"prints\s+`(locksmith: waiting: [^\n]*?host:4242)`")
        .unwrap()
        .captures(&text)
        .expect("the README quotes the waiting line")[1]
        .to_string();
    let commands: Vec<Vec<String>> = text
        .lines()
        .filter_map(|l| l.strip_prefix("locksmith "))
        .map(|l| shell_words::split(l.split(" -- ").next().unwrap()).unwrap())
        .collect();
    let like = |lock: &str| {
        commands
            .iter()
            .find(|c| c.get(3).map(String::as_str) == Some(lock))
            .unwrap_or_else(|| panic!("no `{lock}` command in {commands:?}"))
            .clone()
    };
    // The update, exactly as the README runs it, until we let it finish.
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let mut update_args = like("update");
    update_args.extend(["--".into(), "sh".into(), "-c".into()]);
    update_args.push(format!(
        "echo ready; while [ ! -e '{}' ]; do sleep 0.02; done",
        go.display()
    ));
    let update_args: Vec<&str> = update_args.iter().map(String::as_str).collect();
    let mut update = db.spawn(&update_args);
    let mut out = BufReader::new(update.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    let holder = format!("{}:{}", locksmith::host::hostname(), update.id());
    // The nightly backup, exactly as the README runs it.
    let mut backup_args = like("backup");
    backup_args.extend(["--".into(), "echo".into(), "backed up".into()]);
    let backup_args: Vec<&str> = backup_args.iter().map(String::as_str).collect();
    let mut backup = db.spawn(&backup_args);
    let mut err = BufReader::new(backup.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    assert_eq!(first.trim_end(), quoted.replace("host:4242", &holder));
    // The update finishes; the backup starts as soon as it is done.
    std::fs::write(&go, "").unwrap();
    let u = update.wait().unwrap();
    assert_eq!(u.code(), Some(0));
    let b = Run::from(backup.wait_with_output().unwrap());
    assert_eq!((b.code, b.stdout.as_str()), (0, "backed up\n"), "{b:#?}");
    assert_eq!(db.data("platform").as_deref(), Some("{}"));
}

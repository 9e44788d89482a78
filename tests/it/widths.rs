//! Tables on a terminal fit its width by wrapping only free text (holders,
//! change descriptions); timestamps, versions and names are never split. A
//! terminal that reports 0 columns gets no wrapping at all.

use crate::harness::*;
use std::io::Read;

/// Runs `args` on a pseudo-terminal `cols` wide; what it showed, without
/// carriage returns and colours.
fn on_terminal(db: &TestDb, cols: u16, args: &str) -> String {
    let mut child = db.spawn_on_tty_sized(Some(cols), args);
    let mut seen = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut seen)
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "{args} at {cols} columns: {seen}"
    );
    let colour = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
    colour.replace_all(&seen.replace('\r', ""), "").into_owned()
}

/// Every RFC 3339 time in `text`, whole (a split one is not found).
fn times(text: &str) -> usize {
    let re = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z").unwrap();
    re.find_iter(text).count()
}

#[test]
fn tables_fit_the_terminal_and_never_split_a_timestamp() {
    let db = TestDb::migrated();
    let long_holder = format!("deploy-{}", "x".repeat(90));
    db.sql(&format!(
        r#"INSERT INTO locks (id, dataJson) VALUES ('platform', '{{"backup":"{long_holder}","update":"task-7"}}')"#
    ));
    db.locksmith(&["locks", "force-release", "platform", "update", "--yes"])
        .succeeds_with(
            "row `platform`: version 1 -> 2\nreleased update (held by task-7)\n1 lock(s) remain\n",
        );
    for cols in [40u16, 80] {
        for (args, stamps, names) in [
            ("locks dump", 1, &["platform", "backup"][..]),
            ("locks history", 1, &["platform", "force-release"][..]),
            (
                "migrate status",
                3,
                &[
                    "locks_create_table",
                    "locks_audit_create_table",
                    "holder_liveness",
                ][..],
            ),
        ] {
            let shown = on_terminal(&db, cols, args);
            assert_eq!(times(&shown), stamps, "{args} at {cols} columns:\n{shown}");
            for name in names {
                assert!(
                    shown.contains(name),
                    "{args} at {cols}: {name} split:\n{shown}"
                );
            }
            if cols == 80 {
                let widest = shown.lines().max_by_key(|l| l.chars().count()).unwrap();
                let n = widest.chars().count();
                assert!(
                    n <= 80,
                    "{args} at 80 columns is {n} wide ({widest:?}):\n{shown}"
                );
            }
        }
        // The long holder wraps (it is free text) and is all there.
        let dump = on_terminal(&db, cols, "locks dump");
        let holder_text: String = dump
            .lines()
            .filter(|l| l.starts_with('│'))
            .map(|l| l.split('┆').nth(2).unwrap_or("").trim().to_string())
            .collect();
        assert!(holder_text.contains(&long_holder), "at {cols}:\n{dump}");
    }
}

#[test]
fn a_terminal_that_reports_no_width_gets_one_line_per_row() {
    let db = TestDb::migrated();
    db.sql(r#"INSERT INTO locks (id, dataJson) VALUES ('platform', '{"backup":"task-1"}')"#);
    let shown = on_terminal(&db, 0, "locks dump");
    let rows: Vec<&str> = shown.lines().filter(|l| l.contains("platform")).collect();
    assert_eq!(rows.len(), 1, "{shown}");
    assert!(
        rows[0].contains("backup") && rows[0].contains("task-1") && times(rows[0]) == 1,
        "{shown}"
    );
    assert!(shown.contains("LAST CHANGE"), "headers whole: {shown}");
}

//! Unit tests of the parent module.

use super::*;
use crate::migrate::guard::Applying;
use crate::migrate::schema::Column;

fn v1_columns() -> Vec<Column> {
    let col = |name: &str, kind: &str, nullable: bool, coll: Option<&str>| Column {
        name: name.into(),
        kind: kind.into(),
        nullable,
        collation: coll.map(Into::into),
    };
    vec![
        col("id", "varchar(128)", false, Some("utf8mb3_bin")),
        col("dataJson", "text", true, Some("utf8mb3_bin")),
        col("version", "int", true, None),
        col("ts", "timestamp", true, None),
    ]
}

fn recorded_v1(set: &MigrationSet) -> Applied {
    let v1 = &set.migrations()[0];
    Applied {
        version: 1,
        name: v1.name().into(),
        applied_on: "2024-01-01T00:00:00Z".into(),
        checksum: v1.checksum().to_string(),
    }
}

fn states(set: &MigrationSet, seen: &Observed) -> Vec<(State, Option<Action>)> {
    status(set, seen)
        .iter()
        .map(|s| (s.state, s.next))
        .collect()
}

#[test]
fn history_alone_classifies_divergent_and_unknown() {
    let set = MigrationSet::embedded();
    let mut seen = Observed::default();
    seen.live.tables.insert("locks".into(), v1_columns());
    seen.history = vec![
        recorded_v1(&set),
        Applied {
            version: 2,
            name: "locks_audit_create_table".into(),
            applied_on: "x".into(),
            checksum: "1".into(),
        },
        Applied {
            version: 9,
            name: "future".into(),
            applied_on: "x".into(),
            checksum: "1".into(),
        },
    ];
    assert_eq!(
        states(&set, &seen),
        [
            (State::Applied, None),
            (State::Divergent, None),
            (State::Pending, Some(Action::Apply)),
            (State::AppliedUnknown, None)
        ]
    );
    assert!(check_consistent(&status(&set, &seen)).is_err());
    let fresh = states(&set, &Observed::default());
    assert!(fresh
        .iter()
        .all(|s| *s == (State::Pending, Some(Action::Apply))));
}

#[test]
fn live_tables_make_missing_present_unrecorded_and_drifted() {
    let set = MigrationSet::embedded();
    // Recorded, table gone.
    let mut seen = Observed {
        history: vec![recorded_v1(&set)],
        ..Observed::default()
    };
    assert_eq!(
        states(&set, &seen)[0],
        (State::Missing, Some(Action::Recreate))
    );
    // Not recorded, table there and identical.
    seen.history.clear();
    seen.live.tables.insert("locks".into(), v1_columns());
    assert_eq!(
        states(&set, &seen)[0],
        (State::PresentUnrecorded, Some(Action::Adopt))
    );
    // Not recorded, table there without `version`.
    seen.live.tables.get_mut("locks").unwrap().remove(2);
    let list = status(&set, &seen);
    assert_eq!((list[0].state, list[0].next), (State::Drifted, None));
    assert_eq!(list[0].detail, ["table `locks` has no column `version`"]);
    let e = check_consistent(&list).unwrap_err().to_string();
    assert!(e.contains("V1__locks_create_table is drifted"), "{e}");
    assert!(e.contains("has no column `version`"), "{e}");
}

#[test]
fn a_run_cut_off_mid_migration_is_interrupted() {
    let set = MigrationSet::embedded();
    let mut seen = Observed::default();
    seen.guard.applying = Some(Applying {
        version: 1,
        name: "locks_create_table".into(),
        by: "host:1".into(),
        since: Some("2024-01-01T00:00:00Z".into()),
        still_running: None,
    });
    // Its table never came: run it again.
    assert_eq!(
        states(&set, &seen)[0],
        (State::Interrupted, Some(Action::Apply))
    );
    // Its table came, identical: adopt it.
    seen.live.tables.insert("locks".into(), v1_columns());
    let list = status(&set, &seen);
    assert_eq!(
        (list[0].state, list[0].next),
        (State::Interrupted, Some(Action::Adopt))
    );
    assert!(
        list[0].detail[0].contains("a run by host:1 started applying it at 2024-01-01T00:00:00Z")
    );
    // Its table came, different: refuse.
    seen.live.tables.get_mut("locks").unwrap()[2].kind = "varchar(16)".into();
    assert_eq!(states(&set, &seen)[0], (State::Interrupted, None));
}

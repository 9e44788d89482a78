//! Unit tests of the parent module.

use super::*;

fn c(name: &str, kind: &str, nullable: bool, coll: Option<&str>) -> Column {
    Column {
        name: name.into(),
        kind: normal_type(kind),
        nullable,
        collation: coll.map(normal_collation),
    }
}

#[test]
fn v1_as_made_has_no_differences_and_drift_is_named() {
    let v1 = vec![
        c("id", "varchar(128)", false, Some("utf8_bin")),
        c(
            "dataJson",
            "text /*M!100301 COMPRESSED*/",
            true,
            Some("utf8mb3_bin"),
        ),
        c("version", "int(11)", true, None),
        c("ts", "timestamp", true, None),
    ];
    // Compression is how MariaDB stores the same text, not another type.
    assert_eq!(v1[1].kind, "text");
    assert!(differences("locks", &v1, true).is_empty());
    let mut drifted = v1.clone();
    drifted[2] = c("version", "varchar(16)", true, Some("utf8mb3_bin"));
    drifted[3] = c("ts", "timestamp(3)", true, None);
    drifted.push(c("extra", "int", true, None));
    let d = differences("locks", &drifted, true);
    assert_eq!(
        d,
        [
            "column `locks.version` is varchar(16), not int",
            "column `locks.ts` is timestamp(3), not timestamp",
            "table `locks` has a column `extra` its migration does not make",
        ]
    );
    assert_eq!(differences("locks", &drifted, false).len(), 2);
    assert_eq!(
        differences("locks", &v1[..2], true)[0],
        "table `locks` has no column `version`"
    );
}

/// A column description as MariaDB 10.11 sends it for `SELECT * FROM
/// locks LIMIT 0` with `character_set_results = NULL`.
fn meta(name: &str, t: ColumnType, len: u32, charset: u16, flags: F) -> Meta {
    Meta::new(t)
        .with_name(name.as_bytes())
        .with_column_length(len)
        .with_character_set(charset)
        .with_flags(flags)
}

use mysql_async::consts::{ColumnFlags as F, ColumnType};
use mysql_async::Column as Meta;

fn v1_described() -> Vec<Meta> {
    vec![
        meta(
            "id",
            ColumnType::MYSQL_TYPE_VAR_STRING,
            384,
            83,
            F::NOT_NULL_FLAG | F::BINARY_FLAG,
        ),
        meta(
            "dataJson",
            ColumnType::MYSQL_TYPE_BLOB,
            65_535,
            83,
            F::BLOB_FLAG | F::BINARY_FLAG,
        ),
        meta("version", ColumnType::MYSQL_TYPE_LONG, 11, 63, F::NUM_FLAG),
        // Servers flag a TIMESTAMP UNSIGNED; it is not an integer.
        meta(
            "ts",
            ColumnType::MYSQL_TYPE_TIMESTAMP,
            19,
            63,
            F::UNSIGNED_FLAG | F::TIMESTAMP_FLAG,
        ),
    ]
}

#[test]
fn a_described_table_is_trusted_only_when_it_is_as_expected() {
    let cols = described(&v1_described()).expect("every column is of a known kind");
    assert!(differences("locks", &cols, true).is_empty(), "{cols:?}");

    // Drift shows as a difference (and is then looked up exactly).
    let mut m = v1_described();
    m[0] = meta(
        "id",
        ColumnType::MYSQL_TYPE_VAR_STRING,
        384,
        33,
        F::NOT_NULL_FLAG,
    );
    m[2] = meta(
        "version",
        ColumnType::MYSQL_TYPE_LONG,
        10,
        63,
        F::UNSIGNED_FLAG,
    );
    let d = differences("locks", &described(&m).unwrap(), true);
    assert_eq!(
        d,
        [
            "column `locks.id` uses utf8mb3_general_ci, not utf8mb3_bin",
            "column `locks.version` is int unsigned, not int",
        ]
    );
    // A utf8mb4 VARCHAR(96) is 384 bytes long too: not varchar(128).
    m = v1_described();
    m[0] = meta(
        "id",
        ColumnType::MYSQL_TYPE_VAR_STRING,
        384,
        46,
        F::NOT_NULL_FLAG,
    );
    assert_eq!(described(&m).unwrap()[0].kind, "varchar(96)");
    // A collation or kind this cannot name is not guessed at.
    m = v1_described();
    m[1] = meta(
        "dataJson",
        ColumnType::MYSQL_TYPE_BLOB,
        65_535,
        63,
        F::BLOB_FLAG,
    );
    assert!(described(&m).is_none());
    m[1] = meta("dataJson", ColumnType::MYSQL_TYPE_JSON, 0, 46, F::empty());
    assert!(described(&m).is_none());
}

#[test]
fn only_drift_that_breaks_lock_writes_makes_locks_unusable() {
    let v1 = vec![
        c("id", "varchar(128)", false, Some("utf8mb3_bin")),
        c("dataJson", "text", true, Some("utf8mb3_bin")),
        c("version", "int(11)", true, None),
        c("ts", "timestamp", true, None),
    ];
    assert!(usable_for_locks(&v1));
    let with = |i: usize, col: Column| {
        let mut v = v1.clone();
        v[i] = col;
        v
    };
    // Kept working: another collation, a wider integer, a longer text.
    assert!(usable_for_locks(&with(
        0,
        c("id", "varchar(191)", false, Some("utf8mb4_bin"))
    )));
    assert!(usable_for_locks(&with(
        2,
        c("version", "bigint(20)", false, None)
    )));
    assert!(usable_for_locks(&with(
        1,
        c("dataJson", "mediumtext", true, None)
    )));
    // Broken: a column gone, or of another kind.
    assert!(!usable_for_locks(&v1[..2]));
    // A text version is read (and repaired) row by row.
    assert!(usable_for_locks(&with(
        2,
        c("version", "varchar(16)", true, Some("utf8mb3_bin"))
    )));
    assert!(usable_for_locks(&with(
        3,
        c("ts", "datetime(3)", true, None)
    )));
    assert!(!usable_for_locks(&with(
        2,
        c("version", "datetime", true, None)
    )));
    assert!(!usable_for_locks(&with(0, c("id", "int", false, None))));
    assert!(!usable_for_locks(&with(
        1,
        c("dataJson", "int", true, None)
    )));
    assert!(!usable_for_locks(&with(
        1,
        c("dataJson", "json", true, None)
    )));
    assert!(!usable_for_locks(&with(
        1,
        c("dataJsn", "text", true, None)
    )));
    assert_eq!(
        differences_as("locks", "locks_dropping_1", &v1[..3], false),
        ["table `locks_dropping_1` has no column `ts`"]
    );
}

//! A `locks` table altered out of shape after its migration: lock
//! commands say it is drifted and what differs, in the words of `migrate
//! status`, instead of failing on a raw SQL error. Drift that leaves lock
//! writes sound (a wider integer, another character set; a text version,
//! whose rows `dump` and `repair` deal with one by one, see hostile/versions.rs) is
//! named by `status` and leaves lock commands working.

use crate::harness::*;
use locksmith::cli::output::StatusDoc;

/// V1's detail lines in `migrate status --format json`.
fn v1_detail(db: &TestDb) -> (String, Vec<String>) {
    let doc: StatusDoc = db
        .locksmith(&["migrate", "status", "--format", "json"])
        .success_json();
    let v1 = doc.migrations.into_iter().next().unwrap();
    (v1.state, v1.detail)
}

#[test]
fn lock_commands_refuse_a_drifted_locks_table_with_its_differences() {
    let cases: [(&str, &[&str]); 7] = [
        (
            "ALTER TABLE locks DROP COLUMN version",
            &["table `locks` has no column `version`"],
        ),
        (
            "ALTER TABLE locks DROP COLUMN dataJson",
            &["table `locks` has no column `dataJson`"],
        ),
        (
            "ALTER TABLE locks CHANGE dataJson data TEXT",
            &["table `locks` has no column `dataJson`"],
        ),
        (
            "ALTER TABLE locks MODIFY version DATETIME",
            &["column `locks.version` is datetime, not int"],
        ),
        (
            "ALTER TABLE locks MODIFY id INT NOT NULL",
            &[
                "column `locks.id` is int, not varchar(128)",
                "column `locks.id` uses no collation, not utf8mb3_bin",
            ],
        ),
        (
            "ALTER TABLE locks MODIFY dataJson INT",
            &[
                "column `locks.dataJson` is int, not text",
                "column `locks.dataJson` uses no collation, not utf8mb3_bin",
            ],
        ),
        (
            "ALTER TABLE locks DROP COLUMN ts, MODIFY version BIGINT NOT NULL",
            &[
                "column `locks.version` is bigint, not int",
                "column `locks.version` may not be NULL, and should",
                "table `locks` has no column `ts`",
            ],
        ),
    ];
    for (alter, diffs) in cases {
        let db = TestDb::migrated();
        db.sql(alter);
        let (state, detail) = v1_detail(&db);
        assert_eq!(state, "drifted", "{alter}");
        let mut sorted = detail.clone();
        sorted.sort();
        let mut want: Vec<String> = diffs.iter().map(|d| d.to_string()).collect();
        want.sort();
        assert_eq!(sorted, want, "{alter}");
        let said = format!(
            "locksmith: table `locks` is drifted: it differs from what its migration makes:\n  {}\n\
             hint: alter it back to what V1 makes (`locksmith migrate status` lists the differences); lock commands refuse to use it until then\n",
            detail.join("\n  ")
        );
        let rows = db.rows("SELECT * FROM locks");
        for args in [
            &["locks", "dump"][..],
            &["locks", "acquire", "plat", "backup", "--holder", "A"],
            &["locks", "release", "plat", "backup", "--holder", "A"],
            &["locks", "force-release", "plat", "--all", "--yes"],
            &["locks", "bump", "plat", "--yes"],
            &["locks", "history"],
        ] {
            let r = db.locksmith(args);
            r.fails(1);
            assert_eq!(r.stderr, said, "{alter}: {args:?}");
        }
        assert_eq!(
            db.rows("SELECT * FROM locks"),
            rows,
            "{alter}: nothing written"
        );
    }
}

#[test]
fn drift_that_leaves_lock_writes_sound_is_named_but_does_not_stop_them() {
    for (alter, diffs) in [
        (
            "ALTER TABLE locks MODIFY version BIGINT DEFAULT 1",
            &["column `locks.version` is bigint, not int"][..],
        ),
        (
            "ALTER TABLE locks MODIFY id VARCHAR(191) NOT NULL, CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
            &[
                "column `locks.id` is varchar(191), not varchar(128)",
                "column `locks.id` uses utf8mb4_bin, not utf8mb3_bin",
                "column `locks.dataJson` is mediumtext, not text",
                "column `locks.dataJson` uses utf8mb4_bin, not utf8mb3_bin",
            ],
        ),
    ] {
        let db = TestDb::migrated();
        db.sql(alter);
        let (state, detail) = v1_detail(&db);
        assert_eq!(state, "drifted", "{alter}");
        assert_eq!(detail, diffs, "{alter}");
        db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "A"])
            .success();
        let b = db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "B"]);
        b.fails(4);
        assert_eq!(b.stderr, "locksmith: lock `backup` in row `plat` is held by A\n");
        db.locksmith(&["locks", "release", "plat", "backup", "--holder", "A"])
            .success();
        assert_eq!(db.data("plat").as_deref(), Some("{}"), "{alter}");
    }
}

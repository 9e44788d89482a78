//! Least privilege is honest: `migrate status`, `up` and `down` run by an
//! account that may not read one of the tables they look at fail, naming
//! the table and the privilege (exit 3), instead of calling migrations
//! `pending` or `present-unrecorded`. Each case is a real account with
//! limited GRANTs and a random password, dropped at the end.

use crate::harness::*;

/// An account of the test's own, dropped when this goes out of scope.
struct Account {
    name: String,
    password: String,
    db: String,
    addr: String,
}

impl Account {
    /// Creates it with these GRANTs (`{db}` stands for the database,
    /// `{u}` for the account).
    fn new(db: &TestDb, grants: &[&str]) -> Account {
        let name = unique_name("acct");
        let password: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(24)
            .collect();
        let mut sql = format!("CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'");
        for g in grants {
            sql.push_str("; ");
            sql.push_str(
                &g.replace("{db}", &format!("`{}`", db.name))
                    .replace("{u}", &format!("'{name}'@'%'")),
            );
        }
        db.admin_sql(&sql);
        Account {
            name,
            password,
            db: db.name.clone(),
            addr: db.addr(),
        }
    }

    fn url(&self) -> String {
        format!(
            "mysql://{}:{}@{}/{}",
            self.name, self.password, self.addr, self.db
        )
    }

    fn run(&self, args: &[&str]) -> Run {
        let r = locksmith_at(&self.url(), args);
        r.no_secrets(&[&self.password]);
        r
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        admin_sql(&format!("DROP USER IF EXISTS '{}'@'%'", self.name));
    }
}

/// Every table with its columns, and the history: what must not change.
fn schema(db: &TestDb) -> Vec<Vec<Option<String>>> {
    let mut rows = db.rows(
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION",
    );
    rows.extend(db.rows("SELECT version, checksum FROM refinery_schema_history ORDER BY version"));
    rows
}

const SELECT_ALL_BUT: &str = "GRANT SELECT ON {db}.{t} TO {u}";

/// Grants SELECT on each of locksmith's tables but `except`.
fn select_on_all_but(except: &str) -> Vec<String> {
    [
        "locks",
        "locks_audit",
        "locks_audit_evidence",
        "locks_holders",
        "locksmith_migrate",
        "refinery_schema_history",
    ]
    .iter()
    .filter(|t| **t != except)
    .map(|t| SELECT_ALL_BUT.replace("{t}", &format!("`{t}`")))
    .collect()
}

/// The message for a refused privilege.
fn denied(a: &Account, privilege: &str, what: &str, table: &str, code: u16) -> String {
    let why = match privilege {
        "SELECT" => "; locksmith cannot tell what it holds without that",
        _ => "",
    };
    format!(
        "locksmith: permission denied: '{}'@'127.0.0.1' may not {privilege} {what}table `{table}` (error {code}){why}\n\
         hint: grant the account {privilege} on `{table}`, or run this as an account that may\n",
        a.name
    )
}

/// A table each command must read, hidden from the account (no privilege
/// on it at all, so `information_schema` does not list it), or readable
/// only in some columns: every reading command fails, naming it.
#[test]
fn a_table_the_account_may_not_read_is_an_error_never_pending() {
    let db = TestDb::migrated();
    db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "A"])
        .success();
    let before = schema(&db);
    // `down` reads the history and what the step it plans loses data of
    // (V3: `locks_audit_evidence`, which it drops); then, to change
    // anything, it needs to make its guard.
    let plan = format!("{V3_DOWN_PLAN}-- Dry run: nothing was changed.\n");
    for (hidden, down_reads) in [
        ("refinery_schema_history", true),
        ("locksmith_migrate", false),
        ("locks", false),
        ("locks_audit", false),
        ("locks_holders", false),
        ("locks_audit_evidence", true),
    ] {
        let grants = select_on_all_but(hidden);
        let grants: Vec<&str> = grants.iter().map(String::as_str).collect();
        let a = Account::new(&db, &grants);
        let want = denied(&a, "SELECT", "", hidden, 1142);
        for args in [
            &["migrate", "status"][..],
            &["migrate", "status", "--format", "json"],
            &["migrate", "status", "--check"],
            &["migrate", "up"],
            &["migrate", "up", "--dry-run"],
            &["migrate", "mark-applied", "1", "--dry-run"],
        ] {
            let r = a.run(args);
            r.fails(3);
            assert_eq!(r.stderr, want, "{hidden} hidden: {args:?}");
        }
        let dry = a.run(&["migrate", "down", "--dry-run"]);
        let down = a.run(&["migrate", "down"]);
        down.fails(3);
        if down_reads {
            dry.fails(3);
            assert_eq!(dry.stderr, want, "{hidden} hidden");
            assert_eq!(down.stderr, want, "{hidden} hidden");
        } else {
            dry.succeeds_with(&plan);
            assert_eq!(
                down.stderr,
                denied(&a, "CREATE", "", "locksmith_migrate", 1142),
                "{hidden} hidden"
            );
        }
        assert_eq!(schema(&db), before, "{hidden} hidden: nothing changed");
    }

    // Some columns of the history only.
    let mut grants = select_on_all_but("refinery_schema_history");
    grants.push("GRANT SELECT (version, checksum) ON {db}.`refinery_schema_history` TO {u}".into());
    let grants: Vec<&str> = grants.iter().map(String::as_str).collect();
    let a = Account::new(&db, &grants);
    for args in [&["migrate", "status"][..], &["migrate", "up"]] {
        let r = a.run(args);
        r.fails(3);
        assert_eq!(
            r.stderr,
            denied(
                &a,
                "SELECT",
                "column `name` of ",
                "refinery_schema_history",
                1143
            ),
            "{args:?}"
        );
    }
    assert_eq!(schema(&db), before);
}

/// Reading is enough to look; changing needs more, and what is missing is
/// named: a read-only account sees the schema as it is, and its `down`
/// fails on the first statement it may not run, changing nothing.
#[test]
fn a_read_only_account_sees_the_truth_and_may_change_nothing() {
    let db = TestDb::migrated();
    db.locksmith(&["locks", "acquire", "plat", "backup", "--holder", "A"])
        .success();
    let before = schema(&db);
    let a = Account::new(&db, &["GRANT SELECT ON {db}.* TO {u}"]);
    // All applied: nothing pending, nothing unrecorded.
    a.run(&["migrate", "status", "--check"])
        .succeeds_like(STATUS_APPLIED);
    a.run(&["migrate", "up"]).succeeds_with(UP_NOOP);
    db.locksmith(&["locks", "release", "plat", "backup", "--holder", "A"])
        .success();
    let before_down = schema(&db);
    let r = a.run(&["migrate", "down"]);
    r.fails(3);
    assert_eq!(
        r.stderr,
        denied(&a, "CREATE", "", "locksmith_migrate", 1142)
    );
    assert_eq!(schema(&db), before_down, "nothing changed");
    assert_eq!(before, before_down);
}

//! Operator commands (`locks dump|force-release|bump|history`) and the
//! lock-row protocol's limits, against a real server. This module holds the
//! row the tests seed.

mod dump;
mod limits;
mod operator;

use crate::contest::{workers_beside_an_operator, Contest};
use crate::harness::*;
use locksmith::cli::output::{Dump, HistoryDoc};
use locksmith::locks::AuditRecord;

fn seed(db: &TestDb) {
    db.sql(
        r#"INSERT INTO locks (id, dataJson) VALUES
           ('platform', '{"app_b":"task-2","app_a":"task-1","update":{"task":3}}'),
           ('quiet', '{}')"#,
    );
}

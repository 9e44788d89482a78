//! Unit tests of the parent module.

use super::*;

#[test]
fn reshaping_statements_name_their_tables() {
    let p = Planned {
        label: "V4__x".into(),
        version: 4,
        sql: "DROP TABLE IF EXISTS `a`; rename table b TO c; ALTER TABLE d ADD x INT;".into(),
    };
    assert_eq!(
        reshaped_by(&p),
        (vec!["a".to_string(), "b".into()], vec!["d".to_string()])
    );
}

#[test]
fn tables_are_found_in_create_statements() {
    let p = Planned {
        label: "V3__x".into(),
        version: 3,
        sql: "CREATE TABLE IF NOT EXISTS locks(id INT); create table `extra` (a int);\nINSERT INTO t VALUES (1);".into(),
    };
    assert_eq!(tables_of(&p), ["locks", "extra"]);
}

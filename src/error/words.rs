//! The words of the [`super::Kind`]s that carry lists (tables left
//! renamed, their copies): what each is, and the statement that brings it
//! back, built from the facts the kind carries.

use crate::shown::shown;

/// A table that `migrate down` renamed out of every writer's reach and
/// could not rename back: what it was, and the name it has (or may have).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Left {
    /// `locks` or `locks_audit`.
    pub table: String,
    /// `<table>_dropping_<tag>`.
    pub copy: String,
    /// Whether the rename is known to have landed (false: its reply was
    /// lost, and nothing could look since).
    pub sure: bool,
}

/// `` `a` and `b` ``, for messages.
pub(super) fn list_words(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{}`", shown(n)))
        .collect::<Vec<_>>()
        .join(" and ")
}

/// "left it renamed to `x`", for [`super::Kind::Quarantined`].
pub(super) fn quarantined_words(copies: &[String]) -> String {
    let names: Vec<String> = copies.iter().map(|c| format!("`{}`", shown(c))).collect();
    match names.as_slice() {
        [one] => format!("an interrupted `migrate down` left it renamed to {one}"),
        many => format!(
            "interrupted `migrate down` runs left it renamed, as {}",
            many.join(" and ")
        ),
    }
}

/// What a `migrate down` cut off midway left renamed, and how to bring it
/// back, for [`super::Kind::MigrationFailed`].
pub(super) fn left_words(left: &[Left]) -> String {
    let mut s = String::new();
    for l in left {
        let (t, q) = (shown(&l.table), shown(&l.copy));
        if l.sure {
            s.push_str(&format!(
                "\n`{t}` is left renamed to `{q}`, out of every writer's reach\nhint: bring it back with: RENAME TABLE `{q}` TO `{t}`"
            ));
        } else {
            s.push_str(&format!(
                "\n`{t}` may be left renamed to `{q}` (whether that rename landed could not be told)\nhint: if `{t}` does not exist, bring it back with: RENAME TABLE `{q}` TO `{t}`"
            ));
        }
    }
    s
}

//! The row model: what a row of `locks` holds, what can be wrong with it,
//! and which names, holders and row ids can be stored at all. Pure code, no
//! I/O: the protocol that changes rows lives in `write` and
//! [`super::table`].
//!
//! Every row can be read, whatever state another writer (or an altered
//! table) left it in: a NULL or non-numeric version, a version at the INT
//! maximum, a name written twice, data that is not a JSON object. Such a
//! row says what is wrong ([`RowState::problem`]); lock writes refuse it,
//! and `locks repair` mends it.

use super::entries::{Entry, Locks};
use crate::db::value::{Cells, Param, Record, Stored};
use crate::error::{Kind, Result};

/// Bytes a `TEXT` column holds.
pub const TEXT_LIMIT: usize = 65_535;

/// The largest version the `version` column (`INT`) holds.
pub const VERSION_MAX: i64 = i32::MAX as i64;

/// Characters the `id` column (`VARCHAR(128)`) holds.
pub const ROW_ID_LIMIT: usize = 128;

/// What a row's `dataJson` holds.
#[derive(Clone, Debug, PartialEq)]
pub enum LockData {
    /// A JSON object of locks (possibly empty), each entry as stored.
    Locks(Locks),
    /// `NULL`: a row created without data. Holds no locks.
    Null,
    /// Anything that is not a JSON object, kept verbatim, and why not.
    Raw { text: String, why: String },
}

impl LockData {
    /// Parses the column's text.
    pub fn parse(text: Option<&str>) -> LockData {
        match text {
            None => LockData::Null,
            Some(t) => match Locks::parse(t) {
                Ok(locks) => LockData::Locks(locks),
                Err(why) => LockData::Raw {
                    text: t.to_string(),
                    why,
                },
            },
        }
    }

    /// The locks, when the data is an object (or `NULL`, which holds none).
    pub fn locks(&self) -> Option<Locks> {
        match self {
            LockData::Locks(m) => Some(m.clone()),
            LockData::Null => Some(Locks::new()),
            LockData::Raw { .. } => None,
        }
    }

    /// A one-line description of what is held, or `None` when nothing is.
    /// Data that cannot be parsed counts as held: it cannot be shown safe.
    pub fn held_summary(&self) -> Option<String> {
        match self {
            LockData::Locks(m) if !m.is_empty() => Some(
                m.iter()
                    .map(|e| format!("{} (held by {})", e.shown_name(), e.holder_text()))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            LockData::Raw { text, .. } => Some(format!("dataJson is not a JSON object: {text}")),
            _ => None,
        }
    }
}

/// A row's version, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Version {
    /// A number (possibly at the INT maximum: see [`RowState::problem`]).
    Number(i64),
    /// `NULL`.
    Null,
    /// Text that is not a number (the column was altered to a string type).
    Text(String),
}

impl Version {
    /// The version as a statement parameter, as stored.
    pub(crate) fn sql_value(&self) -> Param {
        match self {
            Version::Number(v) => Param::Int(*v),
            Version::Null => Param::Null,
            Version::Text(t) => Param::Text(t.clone()),
        }
    }

    /// The version when it is a number.
    pub fn number(&self) -> Option<i64> {
        match self {
            Version::Number(v) => Some(*v),
            _ => None,
        }
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Version::Number(v) => write!(f, "{v}"),
            Version::Null => f.write_str("NULL"),
            Version::Text(t) => write!(f, "`{t}`"),
        }
    }
}

/// One row of `locks`, as read.
#[derive(Clone, Debug)]
pub struct RowState {
    /// The row's id.
    pub id: String,
    /// Its version.
    pub version: Version,
    /// Its data.
    pub data: LockData,
    /// `dataJson` exactly as stored (what a repair matches the row by, and
    /// keeps in the audit trail).
    pub stored: Option<String>,
    /// Last change, seconds since the epoch (server clock, no time zone).
    pub changed_at: Option<i64>,
    /// The server's clock when the row was read, seconds since the epoch.
    pub read_at: i64,
}

impl RowState {
    /// What is wrong with the row, in words, or `None` when nothing is.
    /// Lock writes refuse such a row; `locks repair` mends it.
    pub fn problem(&self) -> Option<String> {
        let mut found = Vec::new();
        match &self.version {
            Version::Null => found.push("its version is NULL".to_string()),
            Version::Text(t) => found.push(format!("its version is `{t}`, not a number")),
            Version::Number(v) if *v >= VERSION_MAX => found.push(format!(
                "its version is {v}, the most the INT column holds, so no write can move it on"
            )),
            Version::Number(v) if *v < 0 => found.push(format!("its version is {v}, below zero")),
            Version::Number(_) => {}
        }
        match &self.data {
            LockData::Raw { why, .. } => {
                found.push(format!("its dataJson is not a JSON object ({why})"))
            }
            LockData::Locks(l) => {
                let twice = l.duplicates();
                if !twice.is_empty() {
                    found.push(format!(
                        "its dataJson names {} more than once, so who holds it is ambiguous",
                        twice
                            .iter()
                            .map(|n| format!("`{n}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            LockData::Null => {}
        }
        (!found.is_empty()).then(|| found.join("; "))
    }

    /// The version, for a write that needs a sound one.
    pub fn number(&self) -> Result<i64> {
        match &self.version {
            Version::Number(v) if (0..VERSION_MAX).contains(v) => Ok(*v),
            _ => Err(self.damaged()),
        }
    }

    /// The locks, for a lock write: refused when the row has a problem.
    pub fn locks_to_write(&self) -> Result<Locks> {
        if let LockData::Raw { text, .. } = &self.data {
            return Err(Kind::Corrupt {
                row: self.id.clone(),
                raw: text.clone(),
            }
            .into());
        }
        if self.problem().is_some() {
            return Err(self.damaged());
        }
        Ok(self.data.locks().unwrap_or_default())
    }

    /// The error a write into this row gets.
    pub fn damaged(&self) -> crate::Error {
        Kind::Damaged {
            row: self.id.clone(),
            what: self.problem().unwrap_or_default(),
        }
        .into()
    }

    /// Last change as RFC 3339 UTC, by the server's clock.
    pub fn changed_at_text(&self) -> Option<String> {
        self.changed_at
            .map(|t| crate::db::value::epoch_text(&t.to_string()))
    }

    /// Seconds since the last change, by the server's clock.
    pub fn age_secs(&self) -> Option<i64> {
        self.changed_at.map(|t| (self.read_at - t).max(0))
    }

    /// Reads a row of `SELECT id, version, dataJson, ts, now` (see
    /// [`crate::db::sql::SELECT_ROW`]), whatever its version column holds.
    pub(crate) fn from_row(row: Record) -> Result<RowState> {
        let mut c = Cells::new(row, "locks");
        let id: String = c.take(0, "id")?;
        c.name_row(id.clone());
        let version = match c.take_stored(1, "version")? {
            Stored::Null => Version::Null,
            Stored::Int(v) => Version::Number(v),
            Stored::Text(t) => t
                .trim()
                .parse::<i64>()
                .map_or(Version::Text(t), Version::Number),
        };
        let data: Option<String> = c.take(2, "dataJson")?;
        let changed_at: Option<i64> = c.take(3, "ts")?;
        let read_at: i64 = c.take(4, "UNIX_TIMESTAMP()")?;
        Ok(RowState {
            data: LockData::parse(data.as_deref()),
            stored: data,
            id,
            version,
            changed_at,
            read_at,
        })
    }
}

/// Checks a lock name (or holder) can be stored as given: not empty, no
/// control characters, and nothing outside the Basic Multilingual Plane,
/// which the table's 3-byte `utf8` cannot store.
pub fn validate_text(what: &str, s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(Kind::Invalid(format!("{what} must not be empty")).into());
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(Kind::Invalid(format!(
            "{what} {s:?} contains the control character U+{:04X}",
            c as u32
        ))
        .into());
    }
    if let Some(c) = s.chars().find(|c| (*c as u32) > 0xFFFF) {
        return Err(Kind::Invalid(format!(
            "{what} {s:?} contains {c:?} (U+{:X}), which the locks table's 3-byte utf8 cannot store; use characters up to U+FFFF",
            c as u32
        ))
        .into());
    }
    Ok(())
}

/// Checks a row id can be written: it fits the `id` column, and neither
/// begins nor ends with whitespace (the column's collation ignores
/// trailing spaces, so `"plat "` would alias `plat`).
pub fn validate_row_id(id: &str) -> Result<()> {
    validate_text("row id", id)?;
    if id.trim() != id {
        return Err(Kind::Invalid(format!(
            "row id {id:?} begins or ends with whitespace, which a lock row id may not (the table's collation ignores trailing spaces, and nobody sees them)"
        ))
        .into());
    }
    let n = id.chars().count();
    if n > ROW_ID_LIMIT {
        return Err(Kind::Invalid(format!(
            "row id is {n} characters long; the id column holds at most {ROW_ID_LIMIT}"
        ))
        .into());
    }
    Ok(())
}

/// Checks one lock fits in a row's `dataJson` at all, before anything is
/// written (a row is not even created for a lock that cannot be stored).
pub fn validate_entry(row: &str, name: &str, holder: &str) -> Result<()> {
    let mut one = super::entries::Locks::new();
    one.push(super::entries::Entry::new(name, holder));
    encode(row, &one).map(|_| ())
}

/// Checks a row id names a row that may exist (an operator command on a row
/// another writer created): anything the column can hold.
pub fn validate_stored_row_id(id: &str) -> Result<()> {
    if id.is_empty() || id.chars().count() > ROW_ID_LIMIT {
        return Err(Kind::Invalid(format!(
            "row id must be 1 to {ROW_ID_LIMIT} characters long"
        ))
        .into());
    }
    Ok(())
}

/// Serialises locks for the `dataJson` column, refusing what would not fit.
pub fn encode(row: &str, locks: &Locks) -> Result<String> {
    let text = locks.to_json();
    if text.len() > TEXT_LIMIT {
        return Err(Kind::TooLarge {
            row: row.to_string(),
            bytes: text.len(),
            limit: TEXT_LIMIT,
        }
        .into());
    }
    Ok(text)
}

/// Whether `holder` may take `name` in `row`, which holds `locks`:
/// `Ok(true)` when it holds it already, `Ok(false)` when it is free, or the
/// error naming who is in the way: [`Kind::Held`], or [`Kind::Blocked`] for
/// another lock matching one of the `unless` patterns.
pub fn may_take(
    row: &str,
    locks: &Locks,
    name: &str,
    holder: &str,
    unless: &[glob::Pattern],
) -> Result<bool> {
    for p in unless {
        let in_way = locks
            .iter()
            .find(|e| e.name() != Some(name) && p.matches(&e.shown_name()));
        if let Some(e) = in_way {
            return Err(Kind::Blocked {
                row: row.into(),
                name: e.shown_name().into_owned(),
                pattern: p.as_str().into(),
                holder: e.holder_text(),
            }
            .into());
        }
    }
    match locks.get(name) {
        Some(e) if e.held_by(holder) => Ok(true),
        Some(e) => Err(Kind::Held {
            row: row.into(),
            name: name.into(),
            holder: e.holder_text(),
        }
        .into()),
        None => Ok(false),
    }
}

/// Checks that `holder` holds `name` in `row`, which holds `locks`: fails
/// with [`Kind::NotHeld`] when nobody does, or [`Kind::WrongHolder`]
/// naming who does.
pub fn check_held(row: &str, locks: &Locks, name: &str, holder: &str) -> Result<()> {
    match locks.get(name) {
        None => Err(Kind::NotHeld {
            row: row.into(),
            name: name.into(),
        }
        .into()),
        Some(e) if !e.held_by(holder) => Err(Kind::WrongHolder {
            row: row.into(),
            name: name.into(),
            holder: e.holder_text(),
            wanted: holder.into(),
        }
        .into()),
        Some(_) => Ok(()),
    }
}

/// A lock this holder takes: locksmith writes holders as JSON strings.
pub fn new_entry(name: &str, holder: &str) -> Entry {
    Entry::new(name, holder)
}

/// A row as the tests read it: `data` stored verbatim, at `version`.
#[cfg(test)]
pub(crate) fn read_row(version: Version, data: &str) -> RowState {
    RowState {
        id: "r".into(),
        version,
        data: LockData::parse(Some(data)),
        stored: Some(data.to_string()),
        changed_at: Some(0),
        read_at: 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_keeps_order_and_raw_text() {
        let d = LockData::parse(Some(r#"{"z":"1","a":{"x":[1,2]},"m":3}"#));
        let LockData::Locks(m) = &d else {
            panic!("{d:?}")
        };
        let names: Vec<_> = m.iter().map(|e| e.shown_name().into_owned()).collect();
        assert_eq!(names, ["z", "a", "m"]);
        assert_eq!(m.to_json(), r#"{"z":"1","a":{"x":[1,2]},"m":3}"#);
        for raw in ["[1]", "\"s\"", "nope"] {
            assert!(
                matches!(LockData::parse(Some(raw)), LockData::Raw { text, .. } if text == raw)
            );
        }
        assert_eq!(LockData::parse(None), LockData::Null);
        assert!(LockData::parse(Some("{}")).held_summary().is_none());
        assert!(LockData::parse(None).held_summary().is_none());
        assert!(LockData::parse(Some("[]")).held_summary().is_some());
    }

    #[test]
    fn problems_are_said_and_writes_refuse_them() {
        assert_eq!(read_row(Version::Number(3), "{}").problem(), None);
        for (r, says) in [
            (read_row(Version::Null, "{}"), "its version is NULL"),
            (
                read_row(Version::Text("abc".into()), "{}"),
                "its version is `abc`, not a number",
            ),
            (
                read_row(Version::Number(VERSION_MAX), "{}"),
                "the most the INT column holds",
            ),
            (
                read_row(Version::Number(1), r#"{"b":"x","b":"y"}"#),
                "names `b` more than once",
            ),
            (read_row(Version::Number(1), "[1]"), "not a JSON object"),
        ] {
            assert!(r.problem().unwrap().contains(says), "{:?}", r.problem());
            assert!(r.locks_to_write().is_err());
        }
    }

    #[test]
    fn text_validation() {
        assert!(validate_text(
            "lock name",
            "app_1 'x' \"y\" \\ % _ ; DROP TABLE locks; é ☃"
        )
        .is_ok());
        let e = validate_text("lock name", "party 🎉").unwrap_err();
        assert!(e.to_string().contains("3-byte utf8"), "{e}");
        assert!(validate_text("lock name", "").is_err());
        assert!(validate_text("lock name", "a\nb").is_err());
        assert!(validate_row_id(&"r".repeat(128)).is_ok());
        assert!(validate_row_id(&"r".repeat(129)).is_err());
        for padded in ["plat ", " plat", "plat\t"] {
            assert!(validate_row_id(padded).is_err(), "{padded:?}");
        }
        assert!(validate_stored_row_id("plat ").is_ok());
    }

    #[test]
    fn encode_enforces_text_limit() {
        let mut m = Locks::new();
        // {"k":"…"} is 8 bytes of syntax around the holder.
        m.push(Entry::new("k", &"x".repeat(TEXT_LIMIT - 8)));
        assert_eq!(encode("r", &m).unwrap().len(), TEXT_LIMIT);
        let mut m = Locks::new();
        m.push(Entry::new("k", &"x".repeat(TEXT_LIMIT - 7)));
        assert!(
            matches!(encode("r", &m).unwrap_err().kind(), Kind::TooLarge { bytes, .. } if *bytes == TEXT_LIMIT + 1)
        );
    }
}

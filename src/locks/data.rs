//! The row model: what a row of `locks` holds, how its `dataJson` is read
//! and written, and which names, holders and row ids can be stored at all.
//! Pure code, no I/O: the protocol that changes rows lives in
//! `write` and [`super::table`].
//!
//! A row's `dataJson` is a JSON object mapping lock name to holder. Holders
//! may be any JSON value; what locksmith does not understand it keeps as it
//! is, key order included.

use crate::db::value::Cells;
use crate::error::{Kind, Result};
use serde_json::{Map, Value};

/// Bytes a `TEXT` column holds.
pub const TEXT_LIMIT: usize = 65_535;

/// The largest version the `version` column (`INT`) holds.
pub const VERSION_MAX: i64 = i32::MAX as i64;

/// Characters the `id` column (`VARCHAR(128)`) holds.
pub const ROW_ID_LIMIT: usize = 128;

/// The locks of a row: lock name → holder, in stored order.
pub type Locks = Map<String, Value>;

/// What a row's `dataJson` holds.
#[derive(Clone, Debug, PartialEq)]
pub enum LockData {
    /// A JSON object of locks (possibly empty).
    Locks(Locks),
    /// `NULL`: a row created without data. Holds no locks.
    Null,
    /// Anything that is not a JSON object, kept verbatim.
    Raw(String),
}

impl LockData {
    /// Parses the column's text.
    pub fn parse(text: Option<&str>) -> LockData {
        match text {
            None => LockData::Null,
            Some(t) => match serde_json::from_str::<Value>(t) {
                Ok(Value::Object(m)) => LockData::Locks(m),
                _ => LockData::Raw(t.to_string()),
            },
        }
    }

    /// The locks, when the data is an object (or `NULL`, which holds none).
    pub fn locks(&self) -> Option<Locks> {
        match self {
            LockData::Locks(m) => Some(m.clone()),
            LockData::Null => Some(Locks::new()),
            LockData::Raw(_) => None,
        }
    }

    /// A one-line description of what is held, or `None` when nothing is.
    /// Data that cannot be parsed counts as held: it cannot be shown safe.
    pub fn held_summary(&self) -> Option<String> {
        match self {
            LockData::Locks(m) if !m.is_empty() => Some(
                m.iter()
                    .map(|(k, v)| format!("{k} (held by {})", holder_text(v)))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
            LockData::Raw(r) => Some(format!("dataJson is not a JSON object: {r}")),
            _ => None,
        }
    }
}

/// A holder as text: strings bare, other JSON values as JSON.
pub fn holder_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One row of `locks`, as read.
#[derive(Clone, Debug)]
pub struct RowState {
    /// The row's id.
    pub id: String,
    /// Its version.
    pub version: i64,
    /// Its data.
    pub data: LockData,
    /// Last change, seconds since the epoch (server clock, no time zone).
    pub changed_at: Option<i64>,
    /// The server's clock when the row was read, seconds since the epoch.
    pub read_at: i64,
}

impl RowState {
    /// The locks, or [`Kind::Corrupt`] when the data is not a JSON object.
    pub fn locks_or_corrupt(&self) -> Result<Locks> {
        self.data.locks().ok_or_else(|| {
            let raw = match &self.data {
                LockData::Raw(raw) => raw.clone(),
                _ => String::new(),
            };
            Kind::Corrupt {
                row: self.id.clone(),
                raw,
            }
            .into()
        })
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
    /// Reads a row of `SELECT id, version, dataJson, UNIX_TIMESTAMP(ts),
    /// UNIX_TIMESTAMP()` (see [`crate::db::sql::SELECT_ROW`]).
    pub(crate) fn from_row(row: mysql_async::Row) -> Result<RowState> {
        let mut c = Cells::new(row, "locks");
        let id: String = c.take(0, "id")?;
        c.name_row(id.clone());
        let version: Option<i64> = c.take(1, "version")?;
        let data: Option<String> = c.take(2, "dataJson")?;
        let changed_at: Option<i64> = c.take(3, "ts")?;
        let read_at: i64 = c.take(4, "UNIX_TIMESTAMP()")?;
        let version = version.ok_or_else(|| Kind::Corrupt {
            row: id.clone(),
            raw: "version is NULL".into(),
        })?;
        Ok(RowState {
            data: LockData::parse(data.as_deref()),
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
    if let Some(c) = first_unstorable(s) {
        return Err(Kind::Invalid(format!(
            "{what} {s:?} contains {c:?} (U+{:X}), which the locks table's 3-byte utf8 cannot store; use characters up to U+FFFF",
            c as u32
        ))
        .into());
    }
    Ok(())
}

/// The first character outside the Basic Multilingual Plane, which the
/// `locks` table's 3-byte `utf8` cannot store (emoji, for one).
fn first_unstorable(s: &str) -> Option<char> {
    s.chars().find(|c| (*c as u32) > 0xFFFF)
}

/// Checks a row id fits the `id` column.
pub fn validate_row_id(id: &str) -> Result<()> {
    validate_text("row id", id)?;
    let n = id.chars().count();
    if n > ROW_ID_LIMIT {
        return Err(Kind::Invalid(format!(
            "row id is {n} characters long; the id column holds at most {ROW_ID_LIMIT}"
        ))
        .into());
    }
    Ok(())
}

/// Serialises locks for the `dataJson` column, refusing what would not fit.
pub fn encode(row: &str, locks: &Locks) -> Result<String> {
    let text = json_text(locks);
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

/// Locks as compact JSON that a 3-byte `utf8` column can store: characters
/// beyond U+FFFF, which locksmith never writes itself but another writer
/// may have stored escaped (`"\ud83d\ude80"`), stay escaped.
pub fn json_text(locks: &Locks) -> String {
    let mut out = Vec::with_capacity(128);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Utf8mb3Formatter);
    serde::Serialize::serialize(locks, &mut ser).expect("a JSON map always serialises");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// serde_json's compact output, but with characters beyond U+FFFF written
/// as `\uXXXX` surrogate pairs.
struct Utf8mb3Formatter;

impl serde_json::ser::Formatter for Utf8mb3Formatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut rest = fragment;
        // A 4-byte UTF-8 sequence, and only such, starts with 0xF0..=0xF4.
        while let Some(i) = rest.bytes().position(|b| b >= 0xF0) {
            writer.write_all(&rest.as_bytes()[..i])?;
            let c = rest[i..].chars().next().expect("a char starts here");
            for unit in c.encode_utf16(&mut [0u16; 2]) {
                write!(writer, "\\u{unit:04x}")?;
            }
            rest = &rest[i + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }
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
        if let Some((k, v)) = locks.iter().find(|(k, _)| *k != name && p.matches(k)) {
            return Err(Kind::Blocked {
                row: row.into(),
                name: k.clone(),
                pattern: p.as_str().into(),
                holder: holder_text(v),
            }
            .into());
        }
    }
    match locks.get(name) {
        Some(h) if holder_matches(h, holder) => Ok(true),
        Some(h) => Err(Kind::Held {
            row: row.into(),
            name: name.into(),
            holder: holder_text(h),
        }
        .into()),
        None => Ok(false),
    }
}

/// Does a stored holder match the holder named on the command line? Strings
/// compare exactly; other values by their JSON text (so `42` matches "42").
pub fn holder_matches(stored: &Value, wanted: &str) -> bool {
    match stored {
        Value::String(s) => s == wanted,
        Value::Null => false,
        other => serde_json::to_string(other).is_ok_and(|text| text == wanted),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_keeps_order_and_raw_text() {
        let d = LockData::parse(Some(r#"{"z":"1","a":{"x":[1,2]},"m":3}"#));
        let LockData::Locks(m) = &d else { panic!() };
        assert_eq!(m.keys().collect::<Vec<_>>(), ["z", "a", "m"]);
        assert_eq!(
            serde_json::to_string(m).unwrap(),
            r#"{"z":"1","a":{"x":[1,2]},"m":3}"#
        );
        assert_eq!(LockData::parse(Some("[1]")), LockData::Raw("[1]".into()));
        assert_eq!(
            LockData::parse(Some("\"s\"")),
            LockData::Raw("\"s\"".into())
        );
        assert_eq!(LockData::parse(Some("nope")), LockData::Raw("nope".into()));
        assert_eq!(LockData::parse(None), LockData::Null);
        assert!(LockData::parse(Some("{}")).held_summary().is_none());
        assert!(LockData::parse(None).held_summary().is_none());
        assert!(LockData::parse(Some("[]")).held_summary().is_some());
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
    }

    #[test]
    fn encode_enforces_text_limit() {
        let mut m = Locks::new();
        // {"k":"…"} is 8 bytes of syntax around the holder.
        m.insert("k".into(), Value::String("x".repeat(TEXT_LIMIT - 8)));
        assert_eq!(encode("r", &m).unwrap().len(), TEXT_LIMIT);
        m.insert("k".into(), Value::String("x".repeat(TEXT_LIMIT - 7)));
        assert!(
            matches!(encode("r", &m).unwrap_err().kind(), Kind::TooLarge { bytes, .. } if *bytes == TEXT_LIMIT + 1)
        );
    }

    #[test]
    fn characters_beyond_the_bmp_stay_escaped() {
        let d = LockData::parse(Some(
            r#"{"deploy \ud83d\ude80":"h\ud83c\udf89 1","a":"é☃"}"#,
        ));
        let locks = d.locks().unwrap();
        assert_eq!(locks.get("deploy 🚀"), Some(&Value::String("h🎉 1".into())));
        assert_eq!(
            encode("r", &locks).unwrap(),
            r#"{"deploy \ud83d\ude80":"h\ud83c\udf89 1","a":"é☃"}"#
        );
    }

    #[test]
    fn holder_matching() {
        assert!(holder_matches(&Value::String("42".into()), "42"));
        assert!(holder_matches(&serde_json::json!(42), "42"));
        assert!(!holder_matches(&Value::String("42".into()), "4"));
        assert!(!holder_matches(&Value::Null, "null"));
    }
}

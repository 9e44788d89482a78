//! Rows and statement arguments as the database layer hands them over, so
//! that no other layer names the driver's types: a result row is a
//! [`Record`], read column by column through [`Cells`]; a value of unknown
//! type is a [`Stored`]; arguments built at run time are [`Args`].
//!
//! Reading columns never panics: the driver's tuple conversions panic when
//! a column holds an unexpected type or NULL (a `version` altered to
//! VARCHAR, a NULL checksum in a history table), and locksmith reads tables
//! that other programs write. [`Cells`] turns such a value into an error
//! naming the table, the column and the row.

use crate::error::{Kind, Result};
use mysql_async::prelude::FromValue;
use mysql_async::{Row, Value};

/// One row of a result. Read it with [`Cells`].
pub(crate) struct Record(pub(super) Row);

/// A value of a column whose type is not known in advance (a `version`
/// another writer altered), as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stored {
    Null,
    Int(i64),
    /// Text, or a number that does not fit an `i64`, as text.
    Text(String),
}

/// One argument of a statement whose arguments are built at run time.
#[derive(Clone, Debug)]
pub(crate) enum Param {
    Null,
    Int(i64),
    Text(String),
}

impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Param {
        v.map_or(Param::Null, Param::Int)
    }
}

impl From<i64> for Param {
    fn from(v: i64) -> Param {
        Param::Int(v)
    }
}

impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Param {
        v.map_or(Param::Null, Param::Text)
    }
}

impl From<&str> for Param {
    fn from(v: &str) -> Param {
        Param::Text(v.to_string())
    }
}

impl From<String> for Param {
    fn from(v: String) -> Param {
        Param::Text(v)
    }
}

impl From<Stored> for Param {
    fn from(v: Stored) -> Param {
        match v {
            Stored::Null => Param::Null,
            Stored::Int(i) => Param::Int(i),
            Stored::Text(t) => Param::Text(t),
        }
    }
}

/// The arguments of a statement, in order.
#[derive(Clone, Debug)]
pub(crate) struct Args(pub(crate) Vec<Param>);

impl From<Args> for mysql_async::Params {
    fn from(args: Args) -> mysql_async::Params {
        mysql_async::Params::Positional(
            args.0
                .into_iter()
                .map(|p| match p {
                    Param::Null => Value::NULL,
                    Param::Int(i) => Value::Int(i),
                    Param::Text(t) => Value::Bytes(t.into_bytes()),
                })
                .collect(),
        )
    }
}

/// The columns of one result row, taken one at a time by position.
pub(crate) struct Cells {
    row: Row,
    table: &'static str,
    /// How to name this row in a message (its id, once known).
    key: Option<String>,
}

impl Cells {
    /// Wraps a row read from `table`.
    pub(crate) fn new(row: Record, table: &'static str) -> Cells {
        Cells {
            row: row.0,
            table,
            key: None,
        }
    }

    /// Names the row in later messages (for instance by its id).
    pub(crate) fn name_row(&mut self, key: impl Into<String>) {
        self.key = Some(key.into());
    }

    /// Takes column `i` as a `T`. `T = Option<_>` accepts NULL.
    pub(crate) fn take<T: FromValue>(&mut self, i: usize, column: &'static str) -> Result<T> {
        match self.row.take_opt::<T, usize>(i) {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(self.invalid(column, &describe(&e.0))),
            None => Err(self.invalid(column, "the column is missing from the result")),
        }
    }

    /// Takes column `i` whatever its type, as stored.
    pub(crate) fn take_stored(&mut self, i: usize, column: &'static str) -> Result<Stored> {
        Ok(match self.take::<Value>(i, column)? {
            Value::NULL => Stored::Null,
            Value::Int(v) => Stored::Int(v),
            Value::UInt(v) => {
                i64::try_from(v).map_or_else(|_| Stored::Text(v.to_string()), Stored::Int)
            }
            Value::Bytes(b) => Stored::Text(String::from_utf8_lossy(&b).into_owned()),
            other => Stored::Text(other.as_sql(true)),
        })
    }

    /// An error naming this row's `column`, which holds `found` (also for
    /// a value of the right type that still cannot be used).
    pub(crate) fn invalid(&self, column: &'static str, found: &str) -> crate::Error {
        Kind::BadValue {
            table: self.table.to_string(),
            column: column.to_string(),
            row: self.key.clone(),
            found: found.to_string(),
        }
        .into()
    }
}

/// What an unexpected value was, for a message.
fn describe(v: &Value) -> String {
    match v {
        Value::NULL => "NULL".into(),
        Value::Bytes(b) => format!(
            "the text {:?}",
            String::from_utf8_lossy(&b[..b.len().min(200)])
        ),
        other => format!("the value {}", other.as_sql(true)),
    }
}

/// Seconds since the epoch as the server returns them from
/// `UNIX_TIMESTAMP(…)` (possibly with a fraction), as RFC 3339 UTC. Text
/// that is not such a number is returned as it is.
pub(crate) fn epoch_text(epoch: &str) -> String {
    let (secs, frac) = match epoch.split_once('.') {
        Some((s, f)) => (s, f.trim_end_matches('0')),
        None => (epoch, ""),
    };
    let Ok(secs) = secs.parse::<i64>() else {
        return epoch.to_string();
    };
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(secs) else {
        return epoch.to_string();
    };
    let base = t
        .format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap_or_else(|_| epoch.to_string());
    if frac.is_empty() {
        format!("{base}Z")
    } else {
        format!("{base}.{frac}Z")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times() {
        use super::epoch_text;
        assert_eq!(epoch_text("0"), "1970-01-01T00:00:00Z");
        assert_eq!(epoch_text("1764129600.120"), "2025-11-26T04:00:00.12Z");
        assert_eq!(epoch_text("1764129600.000"), "2025-11-26T04:00:00Z");
        assert_eq!(epoch_text("soon"), "soon");
    }
}

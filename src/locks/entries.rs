//! The locks of a row, exactly as their writers stored them. `dataJson` is a
//! JSON object mapping lock name to holder; each entry keeps the key and the
//! value as the very text they were written with (`1E2` stays `1E2`,
//! `"\u00e9"` stays escaped), so that locksmith never respells what other
//! writers own. Only the whitespace between entries may change. Nesting
//! depth and escapes are whatever valid JSON allows; a name written twice
//! is kept twice, visible, so that it can be refused as ambiguous.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;

/// One lock: its name and its holder, as stored.
#[derive(Clone, Debug)]
pub struct Entry {
    key: Box<RawValue>,
    value: Box<RawValue>,
    /// The key decoded; `None` when it holds an escape no string can (a
    /// lone surrogate).
    name: Option<String>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Entry) -> bool {
        self.key.get() == other.key.get() && self.value.get() == other.value.get()
    }
}

impl Entry {
    /// A lock locksmith writes: `name` held by the string `holder`.
    pub fn new(name: &str, holder: &str) -> Entry {
        Entry {
            key: json_string(name),
            value: json_string(holder),
            name: Some(name.to_string()),
        }
    }

    /// The lock's name, decoded; `None` when its key holds an escape no
    /// string can hold (then [`Entry::key_text`] is all there is).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The key exactly as stored (a JSON string, quotes included).
    pub fn key_text(&self) -> &str {
        self.key.get()
    }

    /// The name for people: decoded, or the stored key text when it cannot
    /// be decoded.
    pub fn shown_name(&self) -> Cow<'_, str> {
        match &self.name {
            Some(n) => Cow::Borrowed(n),
            None => Cow::Borrowed(self.key.get()),
        }
    }

    /// The holder exactly as stored: any JSON value.
    pub fn holder(&self) -> &RawValue {
        &self.value
    }

    /// The holder for people: a string as its text, any other value (a
    /// task number, `null`, an object) as its JSON.
    pub fn holder_text(&self) -> String {
        holder_text(self.value.get())
    }

    /// Whether `wanted` (a holder named on the command line) holds this
    /// lock: a string holder when its text is `wanted`, any other value
    /// when its JSON is (`42` matches `42`, `1E2` matches `1E2`, `null`
    /// matches `null`).
    pub fn held_by(&self, wanted: &str) -> bool {
        let text = self.value.get().trim();
        match serde_json::from_str::<String>(text) {
            Ok(s) if text.starts_with('"') => s == wanted,
            _ => !text.starts_with('"') && text == wanted,
        }
    }
}

/// A holder's JSON as people read it: strings bare, other values as JSON.
pub fn holder_text(json: &str) -> String {
    let json = json.trim();
    match serde_json::from_str::<String>(json) {
        Ok(s) if json.starts_with('"') => s,
        _ => json.to_string(),
    }
}

/// A string as JSON text, the way locksmith writes names and holders.
fn json_string(s: &str) -> Box<RawValue> {
    let text = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    RawValue::from_string(text).unwrap_or_else(|_| empty_string())
}

fn empty_string() -> Box<RawValue> {
    // `""` is valid JSON; this cannot fail.
    serde_json::from_str("\"\"").unwrap_or_default()
}

/// The locks of one row, in stored order, each exactly as stored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Locks {
    entries: Vec<Entry>,
}

impl Locks {
    /// No locks.
    pub fn new() -> Locks {
        Locks::default()
    }

    /// Reads `dataJson`; the error says why it is not a JSON object.
    pub fn parse(text: &str) -> Result<Locks, String> {
        let mut de = serde_json::Deserializer::from_str(text);
        let entries = de.deserialize_map(Entries).map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())?;
        Ok(Locks { entries })
    }

    /// The object as `dataJson`: `{"name":holder,…}`, each entry as stored.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(2 + self.entries.len() * 24);
        out.push('{');
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(e.key.get());
            out.push(':');
            out.push_str(e.value.get());
        }
        out.push('}');
        out
    }

    /// Every entry, in stored order.
    pub fn iter(&self) -> std::slice::Iter<'_, Entry> {
        self.entries.iter()
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The names, in stored order, as [`Entry::shown_name`] gives them.
    pub fn names(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|e| e.shown_name().into_owned())
            .collect()
    }

    /// The (first) entry named `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name() == Some(name))
    }

    /// Whether a lock named `name` is held.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Adds an entry at the end.
    pub fn push(&mut self, e: Entry) {
        self.entries.push(e);
    }

    /// Removes every entry named `name`, returning them.
    pub fn remove(&mut self, name: &str) -> Locks {
        self.split_off(|e| e.name() == Some(name))
    }

    /// Removes the entries for which `gone` is true, returning them.
    pub fn split_off(&mut self, mut gone: impl FnMut(&Entry) -> bool) -> Locks {
        let (out, kept) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|e| gone(e));
        self.entries = kept;
        Locks { entries: out }
    }

    /// Names written more than once (by their stored key text, so that two
    /// spellings of one name count as one name twice).
    pub fn duplicates(&self) -> Vec<String> {
        let mut seen: Vec<(Cow<'_, str>, bool)> = Vec::new();
        for e in &self.entries {
            let n = e.shown_name();
            match seen.iter_mut().find(|(s, _)| *s == n) {
                Some((_, twice)) => *twice = true,
                None => seen.push((n, false)),
            }
        }
        seen.into_iter()
            .filter(|(_, twice)| *twice)
            .map(|(n, _)| n.into_owned())
            .collect()
    }

    /// The row with every duplicate name written once, as JSON parsers
    /// (JavaScript's, serde's) read it: the last value, at the first
    /// place. Returns the entries that go.
    pub fn dedupe(&mut self) -> Locks {
        let mut out: Vec<Entry> = Vec::new();
        let mut gone = Locks::new();
        for e in std::mem::take(&mut self.entries) {
            match out.iter_mut().find(|k| k.shown_name() == e.shown_name()) {
                Some(first) => gone.push(std::mem::replace(first, e)),
                None => out.push(e),
            }
        }
        self.entries = out;
        gone
    }
}

/// Collects an object's entries, each key and value as raw text.
struct Entries;

impl<'de> Visitor<'de> for Entries {
    type Value = Vec<Entry>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Entry>, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<Box<RawValue>, Box<RawValue>>()? {
            let name = serde_json::from_str::<String>(key.get()).ok();
            entries.push(Entry { key, value, name });
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_writers_text_is_kept_exactly() {
        let text = r#"{"n":1E2,"z":-0,"s":"\/\u00e9","o":{"task":[1, 2]},"deploy \ud83d\ude80":"h\ud83c\udf89"}"#;
        let mut locks = Locks::parse(text).unwrap();
        assert_eq!(locks.to_json(), text);
        locks.push(Entry::new("backup", "t1"));
        assert_eq!(
            locks.to_json(),
            r#"{"n":1E2,"z":-0,"s":"\/\u00e9","o":{"task":[1, 2]},"deploy \ud83d\ude80":"h\ud83c\udf89","backup":"t1"}"#
        );
        assert!(locks.get("n").unwrap().held_by("1E2"));
        assert!(!locks.get("n").unwrap().held_by("100"));
        assert!(locks.get("s").unwrap().held_by("/é"));
        assert_eq!(locks.get("deploy 🚀").unwrap().holder_text(), "h🎉");
        assert_eq!(locks.remove("n").to_json(), r#"{"n":1E2}"#);
    }

    #[test]
    fn whitespace_between_entries_is_all_that_changes() {
        let locks = Locks::parse(" { \"a\" : \"x\" ,\n \"b\":{ \"k\" : 1 } } ").unwrap();
        assert_eq!(locks.to_json(), r#"{"a":"x","b":{ "k" : 1 }}"#);
    }

    #[test]
    fn deep_nesting_and_lone_surrogates_are_valid_json() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(300), "]".repeat(300));
        assert_eq!(Locks::parse(&deep).unwrap().len(), 1);
        let lone = Locks::parse(r#"{"\ud800":"x","k":"\udfff"}"#).unwrap();
        assert_eq!(lone.iter().next().unwrap().name(), None);
        assert_eq!(lone.iter().next().unwrap().shown_name(), r#""\ud800""#);
        assert_eq!(lone.get("k").unwrap().holder_text(), r#""\udfff""#);
    }

    #[test]
    fn duplicates_are_kept_visible_and_deduped_as_parsers_read_them() {
        let mut locks = Locks::parse(r#"{"b":"x","c":"z","b":"y"}"#).unwrap();
        assert_eq!(locks.len(), 3);
        assert_eq!(locks.duplicates(), ["b"]);
        let gone = locks.dedupe();
        assert_eq!(locks.to_json(), r#"{"b":"y","c":"z"}"#);
        assert_eq!(gone.to_json(), r#"{"b":"x"}"#);
        assert!(locks.duplicates().is_empty());
    }

    #[test]
    fn holders_match_by_text_or_json() {
        let locks = Locks::parse(r#"{"a":"42","b":42,"c":null,"d":"null","e":{"t":1}}"#).unwrap();
        for (name, wanted, yes) in [
            ("a", "42", true),
            ("b", "42", true),
            ("c", "null", true),
            ("d", "null", true),
            ("e", r#"{"t":1}"#, true),
            ("a", "4", false),
            ("c", "", false),
        ] {
            assert_eq!(
                locks.get(name).unwrap().held_by(wanted),
                yes,
                "{name} {wanted}"
            );
        }
        assert_eq!(locks.get("c").unwrap().holder_text(), "null");
    }

    #[test]
    fn what_is_not_an_object_says_why() {
        for text in ["[1]", "\"s\"", "nope", "{\"a\":1,}", "{\"a\":1} x", ""] {
            assert!(Locks::parse(text).is_err(), "{text}");
        }
    }
}

//! The locks of a row, exactly as their writers stored them. `dataJson` is a
//! JSON object mapping lock name to holder. [`Locks`] keeps the object's
//! text byte for byte and knows where each entry sits in it, so that a lock
//! write is a splice: it changes only the bytes of the entry it adds or
//! removes, plus the separator next to it. Every other key, value,
//! whitespace and their order stay as their writers left them (`1E2` stays
//! `1E2`, `"\u00e9"` stays escaped, `{"taskId": "18"}` keeps its spaces).
//!
//! The splice rules, the same on every path (the server's single UPDATE in
//! `db::sql::FAST_ACQUIRE` writes the same bytes for the rows it handles):
//!
//! * **Add** puts `"name":"holder"` right after the opening `{`, followed
//!   by `,` when the object already has an entry: new locks go first.
//! * **Remove** takes an entry that is not the last with the first comma
//!   after it (and the whitespace between the two); the last of several
//!   with the comma before it (and the whitespace between the two); the
//!   only one alone. So adding a lock and removing it again gives back the
//!   text as it was, byte for byte.
//!
//! Nesting depth and escapes are whatever valid JSON allows; a name
//! written twice is kept twice, visible, so that it can be refused as
//! ambiguous.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::ops::Range;

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

    /// Whether `other` is the same lock held by the same holder, by
    /// meaning rather than spelling: the same name, and holders that are
    /// equal JSON values (whitespace and key order inside an object do not
    /// matter, numbers are equal by value, strings by what they decode
    /// to). How a confirmed plan is matched against a row another writer
    /// has rewritten meanwhile.
    pub fn same_meaning(&self, other: &Entry) -> bool {
        let names = match (&self.name, &other.name) {
            (Some(a), Some(b)) => a == b,
            _ => self.key.get() == other.key.get(),
        };
        names && same_value(self.value.get(), other.value.get())
    }

    /// The entry as written into a row: `"name":holder`.
    fn text(&self) -> String {
        format!("{}:{}", self.key.get(), self.value.get())
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

/// Whether two JSON texts hold the same value (see [`Entry::same_meaning`]).
/// Text that does not parse is equal only to the same text.
pub fn same_value(a: &str, b: &str) -> bool {
    if a.trim() == b.trim() {
        return true;
    }
    match (canonical(a), canonical(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// A JSON text in one spelling per value: objects with their keys sorted,
/// strings decoded, numbers by value. `None` when it does not parse.
fn canonical(text: &str) -> Option<serde_json::Value> {
    fn canon(v: serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match v {
            Value::Object(m) => {
                let mut pairs: Vec<(String, Value)> =
                    m.into_iter().map(|(k, v)| (k, canon(v))).collect();
                pairs.sort_by(|a, b| a.0.cmp(&b.0));
                Value::Object(pairs.into_iter().collect())
            }
            Value::Array(a) => Value::Array(a.into_iter().map(canon).collect()),
            Value::Number(n) => Value::String(number_key(&n)),
            other => other,
        }
    }
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .map(canon)
}

/// A number by value: `1E2`, `100` and `100.0` alike, `-0` as `0`.
fn number_key(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return format!("#{i}");
    }
    if let Some(u) = n.as_u64() {
        return format!("#{u}");
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("#{}", f as i64),
        Some(f) => format!("#{f:e}"),
        None => format!("#{n}"),
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

/// The locks of one row, in stored order: the object's text exactly as
/// stored, and where each entry sits in it.
#[derive(Clone, Debug)]
pub struct Locks {
    /// The object's text (whitespace around it included).
    text: String,
    /// The entries, in order.
    entries: Vec<Entry>,
    /// Where each entry (`"key"` through the end of its value) sits in
    /// `text`, in the same order.
    spans: Vec<Range<usize>>,
    /// Where the opening `{` is.
    open: usize,
}

impl Default for Locks {
    fn default() -> Locks {
        Locks {
            text: "{}".into(),
            entries: Vec::new(),
            spans: Vec::new(),
            open: 0,
        }
    }
}

/// Two sets of locks are equal when their texts are (and so are their
/// entries).
impl PartialEq for Locks {
    fn eq(&self, other: &Locks) -> bool {
        self.text == other.text
    }
}

impl Locks {
    /// No locks: `{}`.
    pub fn new() -> Locks {
        Locks::default()
    }

    /// Reads `dataJson`; the error says why it is not a JSON object.
    pub fn parse(text: &str) -> Result<Locks, String> {
        let mut de = serde_json::Deserializer::from_str(text);
        let found = de
            .deserialize_map(Entries {
                base: text.as_ptr() as usize,
            })
            .map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())?;
        let open = text.find('{').unwrap_or(0);
        let (entries, spans) = found.into_iter().unzip();
        Ok(Locks {
            text: text.to_string(),
            entries,
            spans,
            open,
        })
    }

    /// Locks built from entries, written compactly in this order:
    /// `{"a":"x","b":"y"}`.
    pub fn from_entries(entries: impl IntoIterator<Item = Entry>) -> Locks {
        let mut locks = Locks::new();
        for e in entries {
            locks.push(e);
        }
        locks
    }

    /// The object as `dataJson`, exactly.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The object as `dataJson`, exactly (an owned copy of [`Locks::text`]).
    pub fn to_json(&self) -> String {
        self.text.clone()
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

    /// Adds an entry the way a lock write does: first, right after `{`.
    pub fn add(&mut self, e: Entry) {
        let at = self.open + 1;
        let written = e.text();
        let len = written.len();
        let inserted = match self.entries.is_empty() {
            true => written,
            false => format!("{written},"),
        };
        self.splice(at..at, &inserted, 0);
        self.entries.insert(0, e);
        self.spans.insert(0, at..at + len);
    }

    /// Adds an entry at the end, after the last one (how a set of locks
    /// that is not a row, such as what a change removed, is built).
    pub fn push(&mut self, e: Entry) {
        let written = e.text();
        let len = written.len();
        let (at, inserted) = match self.spans.last() {
            Some(last) => (last.end, format!(",{written}")),
            None => (self.open + 1, written),
        };
        self.splice(at..at, &inserted, self.entries.len());
        let start = at + inserted.len() - len;
        self.entries.push(e);
        self.spans.push(start..start + len);
    }

    /// Removes every entry named `name`, returning them.
    pub fn remove(&mut self, name: &str) -> Locks {
        self.split_off(|e| e.name() == Some(name))
    }

    /// Removes the entries for which `gone` is true, returning them (in
    /// stored order, written compactly).
    pub fn split_off(&mut self, mut gone: impl FnMut(&Entry) -> bool) -> Locks {
        let doomed: Vec<usize> = (0..self.entries.len())
            .filter(|&i| gone(&self.entries[i]))
            .collect();
        let mut out: Vec<Entry> = Vec::with_capacity(doomed.len());
        // From the back, so that the indexes still to come stay valid.
        for &i in doomed.iter().rev() {
            out.push(self.remove_at(i));
        }
        out.reverse();
        Locks::from_entries(out)
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
    /// place. Returns the entries that go (each first value a later one
    /// overrode, and the later entries' places).
    pub fn dedupe(&mut self) -> Locks {
        let mut gone = Vec::new();
        let mut i = 0;
        while i < self.entries.len() {
            let name = self.entries[i].shown_name().into_owned();
            let later: Vec<usize> = (i + 1..self.entries.len())
                .filter(|&j| self.entries[j].shown_name() == name)
                .collect();
            if let Some(&last) = later.last() {
                let value = self.entries[last].value.clone();
                for &j in later.iter().rev() {
                    self.remove_at(j);
                }
                let first = self.entries[i].clone();
                self.replace_value(i, value);
                gone.push(first);
            }
            i += 1;
        }
        Locks::from_entries(gone)
    }

    /// Whether `other` holds the same locks by meaning (see
    /// [`Entry::same_meaning`]), whatever their order and spelling.
    pub fn same_meaning(&self, other: &Locks) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let mut unmatched: Vec<&Entry> = other.entries.iter().collect();
        self.entries
            .iter()
            .all(|e| match unmatched.iter().position(|o| e.same_meaning(o)) {
                Some(i) => {
                    unmatched.swap_remove(i);
                    true
                }
                None => false,
            })
    }

    /// Removes entry `i` by the Remove rule (see the module docs).
    fn remove_at(&mut self, i: usize) -> Entry {
        let span = self.spans[i].clone();
        let last = i + 1 == self.entries.len();
        let range = if !last {
            // Through the first comma after it.
            let comma = self.text[span.end..]
                .find(',')
                .map_or(span.end, |c| span.end + c + 1);
            span.start..comma
        } else if i > 0 {
            // From the comma before it.
            let comma = self.text[..span.start].rfind(',').unwrap_or(span.start);
            comma..span.end
        } else {
            span
        };
        self.splice(range, "", i + 1);
        self.spans.remove(i);
        self.entries.remove(i)
    }

    /// Replaces entry `i`'s value with `value`.
    fn replace_value(&mut self, i: usize, value: Box<RawValue>) {
        let span = self.spans[i].clone();
        let old = self.entries[i].value.get().len();
        let at = span.end - old;
        self.splice(at..span.end, value.get(), i + 1);
        self.spans[i] = span.start..at + value.get().len();
        self.entries[i].value = value;
    }

    /// Replaces `range` of the text with `with`, moving the spans of the
    /// entries from index `from` on by the difference.
    fn splice(&mut self, range: Range<usize>, with: &str, from: usize) {
        let removed = range.len();
        self.text.replace_range(range, with);
        let grow = with.len() as isize - removed as isize;
        for s in &mut self.spans[from..] {
            let start = (s.start as isize + grow) as usize;
            let end = (s.end as isize + grow) as usize;
            *s = start..end;
        }
    }
}

/// Collects an object's entries, each key and value as raw text, with the
/// span each entry covers in the text (found by where the borrowed raw
/// values sit in it).
struct Entries {
    base: usize,
}

impl<'de> Visitor<'de> for Entries {
    type Value = Vec<(Entry, Range<usize>)>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some((key, value)) = map.next_entry::<&'de RawValue, &'de RawValue>()? {
            let start = key.get().as_ptr() as usize - self.base;
            let end = value.get().as_ptr() as usize - self.base + value.get().len();
            let name = serde_json::from_str::<String>(key.get()).ok();
            entries.push((
                Entry {
                    key: key.to_owned(),
                    value: value.to_owned(),
                    name,
                },
                start..end,
            ));
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests;

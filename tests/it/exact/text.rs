//! `dataJson` texts made as text (not through serde), so that whitespace
//! and spelling can be anywhere JSON allows them, each with the byte spans
//! of its entries; and the byte-exact rule for adding and removing one
//! entry, worked out on those spans independently of locksmith.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{select, subsequence};

/// One top-level entry of a generated object, in pieces: whitespace before
/// the key, the key (a JSON string, quotes included), whitespace around the
/// colon, the value (JSON text), whitespace after it.
#[derive(Clone, Debug)]
pub struct Part {
    pub pre: String,
    pub key: String,
    pub colon: (String, String),
    pub value: String,
    pub post: String,
}

/// A generated object: whitespace before `{`, inside `{}` when it has no
/// entries, its entries, whitespace after `}`.
#[derive(Clone, Debug)]
pub struct Shape {
    pub lead: String,
    pub inner: String,
    pub parts: Vec<Part>,
    pub trail: String,
}

/// Where one entry is in the text.
#[derive(Clone, Debug)]
pub struct Span {
    /// The key, decoded.
    pub name: String,
    /// The key's first byte.
    pub start: usize,
    /// Just past the value's last byte.
    pub end: usize,
    /// Just past the `{` or `,` before the entry.
    pub before: usize,
    /// The `,` or `}` after the entry (and its trailing whitespace).
    pub after: usize,
}

/// A `dataJson` text and where its entries are.
#[derive(Clone)]
pub struct Doc {
    /// What it was made from.
    pub shape: Shape,
    pub text: String,
    /// The `{`.
    pub open: usize,
    pub entries: Vec<Span>,
}

impl std::fmt::Debug for Doc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Doc({:?})", self.text)
    }
}

impl From<Shape> for Doc {
    fn from(s: Shape) -> Doc {
        let mut text = s.lead.clone();
        let open = text.len();
        text.push('{');
        if s.parts.is_empty() {
            text.push_str(&s.inner);
        }
        let mut entries = Vec::new();
        for (i, p) in s.parts.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            let before = text.len();
            text.push_str(&p.pre);
            let start = text.len();
            text.push_str(&p.key);
            text.push_str(&p.colon.0);
            text.push(':');
            text.push_str(&p.colon.1);
            text.push_str(&p.value);
            let end = text.len();
            text.push_str(&p.post);
            entries.push(Span {
                name: serde_json::from_str(&p.key)
                    .unwrap_or_else(|e| panic!("generated key {:?}: {e}", p.key)),
                start,
                end,
                before,
                after: text.len(),
            });
        }
        text.push('}');
        text.push_str(&s.trail);
        Doc {
            shape: s,
            text,
            open,
            entries,
        }
    }
}

impl Doc {
    /// The text of entry `i`: from its key's opening quote to its value's
    /// last byte.
    pub fn entry(&self, i: usize) -> &str {
        &self.text[self.entries[i].start..self.entries[i].end]
    }

    /// "Simple" in the sense of the single-UPDATE path: starts `{"` or is
    /// `{}`, ends `}`, holds no backslash.
    pub fn is_simple(&self) -> bool {
        (self.text.starts_with("{\"") || self.text == "{}")
            && self.text.ends_with('}')
            && !self.text.contains('\\')
    }

    /// The text once `name` is acquired for `holder`: `"NAME":"HOLDER"`
    /// (compact, as serde_json writes the strings) right after `{`, and a
    /// `,` after it when the object has entries.
    pub fn add(&self, name: &str, holder: &str) -> String {
        let comma = if self.entries.is_empty() { "" } else { "," };
        format!(
            "{}{}:{}{comma}{}",
            &self.text[..=self.open],
            serde_json::to_string(name).unwrap(),
            serde_json::to_string(holder).unwrap(),
            &self.text[self.open + 1..]
        )
    }

    /// The text once entry `i` is removed: a non-last entry goes with the
    /// whitespace after it and the comma after that; the last one (when
    /// there are others) with the comma before it and the whitespace
    /// between; the only one alone.
    pub fn remove(&self, i: usize) -> String {
        let (n, e) = (self.entries.len(), &self.entries[i]);
        let t = &self.text;
        if n == 1 {
            format!("{}{}", &t[..e.start], &t[e.end..])
        } else if i + 1 < n {
            format!("{}{}", &t[..e.start], &t[e.after + 1..])
        } else {
            format!("{}{}", &t[..e.before - 1], &t[e.end..])
        }
    }

    /// The entries an operator can name: no control characters, nothing
    /// outside the Basic Multilingual Plane (what lock names may hold).
    pub fn nameable(&self) -> Vec<usize> {
        (0..self.entries.len())
            .filter(|i| {
                let n = &self.entries[*i].name;
                !n.chars().any(|c| c.is_control() || c as u32 > 0xFFFF)
            })
            .collect()
    }
}

/// Lock names the tests take: none starts with `k` (every generated
/// top-level key does), some need escapes, some are not ASCII.
pub const NAMES: [&str; 5] = ["lk", "lock/é", "q\"uote", "back\\slash", "日本 x"];

/// Holders the tests use: all hold `ε`, which no generated string does.
pub const HOLDERS: [&str; 4] = ["ε", "task-ε", "ε \"q\"", "ε/1"];

/// Raw pieces of generated strings: no `"`, `\` or control character, BMP
/// only (the column is utf8mb3); some look like JSON or like a lock name.
const RAW: [&str; 22] = [
    "a", "Z", "0", "9", " ", "lk", "h", "taskId", "{", "}", "[", "]", ":", ",", "'", "é", "☃",
    "中文", "\u{2028}", "\u{a0}", "$.x", "%_",
];

/// Escapes, every kind JSON has: the short ones, `\u` in both cases of hex,
/// control characters, a surrogate pair, escaped quote and backslash, and
/// an escaped spelling of a key.
const ESCAPES: [&str; 20] = [
    r#"\""#,
    r"\\",
    r"\/",
    r"\b",
    r"\f",
    r"\n",
    r"\r",
    r"\t",
    r"\u00e9",
    r"\u00E9",
    r"\u0000",
    r"\u0001",
    r"\u001f",
    r"\u007f",
    r"\ud83d\ude00",
    r"\u2028",
    r"\u0022",
    r"\u005c",
    r#"\"lk\":"#,
    r"\u006b",
];

const NUMBERS: [&str; 12] = [
    "0",
    "-0",
    "1E2",
    "2.50",
    "1e+21",
    "0.1e-5",
    "-12",
    "123456789012345678901234567890",
    "1.0",
    "-1.5E-3",
    "3",
    "1e-7",
];

/// Keys of nested objects (JSON text, each decoding to a different
/// string); `lk` is also a lock name.
const NESTED_KEYS: [&str; 11] = [
    r#""lk""#,
    r#""taskId""#,
    r#""pid""#,
    r#""a b""#,
    r#""é""#,
    r#""n""#,
    r#""\u00e9\u00e9""#,
    r#""\n""#,
    r#""\/x""#,
    r#""q\"""#,
    r#""\ud83d\ude00""#,
];

/// Whitespace JSON allows between tokens (none, in a compact text).
fn ws(compact: bool) -> BoxedStrategy<String> {
    if compact {
        return Just(String::new()).boxed();
    }
    prop_oneof![
        3 => Just(String::new()),
        2 => vec(select(vec![" ", "\t", "\n", "\r"]), 1..4).prop_map(|w| w.concat()),
    ]
    .boxed()
}

/// The inside of a JSON string (no escapes in a compact text, so that it
/// holds no backslash).
fn body(compact: bool) -> BoxedStrategy<String> {
    let piece = if compact {
        select(RAW.to_vec()).boxed()
    } else {
        prop_oneof![2 => select(RAW.to_vec()), 1 => select(ESCAPES.to_vec())].boxed()
    };
    vec(piece, 0..5).prop_map(|p| p.concat()).boxed()
}

fn value(compact: bool) -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        2 => body(compact).prop_map(|b| format!("\"{b}\"")),
        1 => select(NUMBERS.to_vec()).prop_map(str::to_string),
        1 => select(vec!["true", "false", "null"]).prop_map(str::to_string),
    ];
    leaf.prop_recursive(3, 16, 4, move |inner| {
        prop_oneof![array(inner.clone(), compact), object(inner, compact)]
    })
    .boxed()
}

fn array(inner: BoxedStrategy<String>, compact: bool) -> BoxedStrategy<String> {
    (vec((ws(compact), inner, ws(compact)), 0..4), ws(compact))
        .prop_map(|(items, empty)| match items.is_empty() {
            true => format!("[{empty}]"),
            false => {
                let items: Vec<String> = items.into_iter().map(|(a, v, b)| a + &v + &b).collect();
                format!("[{}]", items.join(","))
            }
        })
        .boxed()
}

fn object(inner: BoxedStrategy<String>, compact: bool) -> BoxedStrategy<String> {
    let keys: Vec<&str> = NESTED_KEYS
        .iter()
        .copied()
        .filter(|k| !compact || !k.contains('\\'))
        .collect();
    subsequence(keys, 0..=3)
        .prop_flat_map(move |keys| {
            let n = keys.len();
            let each = (
                ws(compact),
                ws(compact),
                ws(compact),
                inner.clone(),
                ws(compact),
            );
            (Just(keys), vec(each, n), ws(compact))
        })
        .prop_map(|(keys, values, empty)| match keys.is_empty() {
            true => format!("{{{empty}}}"),
            false => {
                let items: Vec<String> = keys
                    .iter()
                    .zip(values)
                    .map(|(k, (a, b, c, v, d))| format!("{a}{k}{b}:{c}{v}{d}"))
                    .collect();
                format!("{{{}}}", items.join(","))
            }
        })
        .boxed()
}

/// A top-level entry; its key gets `k<index>_` (or `\u006b<index>_`) in
/// front once its place is known, so that no two keys decode alike.
fn part(compact: bool) -> BoxedStrategy<(bool, Part)> {
    let escaped = if compact {
        Just(false).boxed()
    } else {
        prop::bool::weighted(0.2).boxed()
    };
    (
        escaped,
        ws(compact),
        body(compact),
        (ws(compact), ws(compact)),
        value(compact),
        ws(compact),
    )
        .prop_map(|(escaped, pre, key, colon, value, post)| {
            let part = Part {
                pre,
                key,
                colon,
                value,
                post,
            };
            (escaped, part)
        })
        .boxed()
}

fn shape(compact: bool) -> BoxedStrategy<Shape> {
    (
        ws(compact),
        ws(compact),
        vec(part(compact), 0..6),
        ws(compact),
    )
        .prop_map(|(lead, inner, parts, trail)| Shape {
            lead,
            inner,
            trail,
            parts: parts
                .into_iter()
                .enumerate()
                .map(|(i, (escaped, mut p))| {
                    let k = if escaped { r"\u006b" } else { "k" };
                    p.key = format!("\"{k}{i}_{}\"", p.key);
                    p
                })
                .collect(),
        })
        .boxed()
}

/// Rows as other writers may leave them: a third compact with no escapes
/// ("simple", for the single-UPDATE path), the rest with whitespace and
/// escapes anywhere.
pub fn row() -> impl Strategy<Value = Doc> {
    prop_oneof![1 => shape(true), 2 => shape(false)].prop_map(Doc::from)
}

mod model {
    //! The rule, on the examples it is stated with (no server).
    use super::*;

    fn part(pre: &str, key: &str, c0: &str, c1: &str, value: &str, post: &str) -> Part {
        Part {
            pre: pre.into(),
            key: key.into(),
            colon: (c0.into(), c1.into()),
            value: value.into(),
            post: post.into(),
        }
    }

    fn doc(lead: &str, inner: &str, parts: Vec<Part>, trail: &str) -> Doc {
        Doc::from(Shape {
            lead: lead.into(),
            inner: inner.into(),
            parts,
            trail: trail.into(),
        })
    }

    #[test]
    fn the_rule_on_its_own_examples() {
        let a1 = || part("", r#""a""#, "", "", "1", "");
        assert_eq!(doc("", "", vec![], "").add("n", "h"), r#"{"n":"h"}"#);
        assert_eq!(doc("", " ", vec![], "").add("n", "h"), r#"{"n":"h" }"#);
        assert_eq!(
            doc("", "", vec![a1()], "").add("n", "h"),
            r#"{"n":"h","a":1}"#
        );
        let spaced = doc("", "", vec![part("\n  ", r#""a""#, " ", " ", "1", " ")], "");
        assert_eq!(spaced.text, "{\n  \"a\" : 1 }");
        assert_eq!(spaced.add("n", "h"), "{\"n\":\"h\",\n  \"a\" : 1 }");
        assert_eq!(spaced.remove(0), "{\n   }");
        assert_eq!(
            doc(" ", "", vec![a1()], "\n").add("q\"", "é"),
            " {\"q\\\"\":\"é\",\"a\":1}\n"
        );
        // Three entries, spaces everywhere: the first and middle go with the
        // comma after them, the last with the comma before it.
        let three = doc(
            "",
            "",
            vec![
                part(" ", r#""a""#, "", "", "1", " "),
                part(" ", r#""b""#, "", "", "2", " "),
                part(" ", r#""c""#, "", "", "3", " "),
            ],
            "",
        );
        assert_eq!(three.text, r#"{ "a":1 , "b":2 , "c":3 }"#);
        assert_eq!(three.remove(0), r#"{  "b":2 , "c":3 }"#);
        assert_eq!(three.remove(1), r#"{ "a":1 ,  "c":3 }"#);
        assert_eq!(three.remove(2), r#"{ "a":1 , "b":2  }"#);
        assert_eq!(three.entry(1), r#""b":2"#);
    }

    #[test]
    fn generated_rows_are_objects_and_the_rule_keeps_them_so() {
        type Map = serde_json::Map<String, serde_json::Value>;
        let parse = |t: &str| {
            serde_json::from_str::<Map>(t).map_err(|e| TestCaseError::fail(format!("{e}: {t:?}")))
        };
        let keys = |m: Map| m.keys().cloned().collect::<Vec<_>>();
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(
                &(row(), select(NAMES.to_vec()), select(HOLDERS.to_vec())),
                |(d, name, holder)| {
                    prop_assert!(d.text.len() < 65_535);
                    let names: Vec<String> = d.entries.iter().map(|e| e.name.clone()).collect();
                    // Valid, and no key twice.
                    prop_assert_eq!(keys(parse(&d.text)?), names.clone());
                    for (i, e) in d.entries.iter().enumerate() {
                        let one = parse(&format!("{{{}}}", d.entry(i)))?;
                        prop_assert_eq!(keys(one), vec![e.name.clone()]);
                    }
                    // The added entry comes first, as if it had been written
                    // there: a part of its own, compact, before the others.
                    let mut first = d.shape.clone();
                    let post = match first.parts.is_empty() {
                        true => std::mem::take(&mut first.inner),
                        false => String::new(),
                    };
                    first.parts.insert(
                        0,
                        part(
                            "",
                            &serde_json::to_string(name).unwrap(),
                            "",
                            "",
                            &serde_json::to_string(holder).unwrap(),
                            &post,
                        ),
                    );
                    let added = Doc::from(first);
                    prop_assert_eq!(&added.text, &d.add(name, holder));
                    prop_assert_eq!(added.remove(0), d.text.clone());
                    let mut with = vec![name.to_string()];
                    with.extend(names.iter().cloned());
                    prop_assert_eq!(keys(parse(&added.text)?), with);
                    for i in 0..d.entries.len() {
                        let mut left = names.clone();
                        left.remove(i);
                        prop_assert_eq!(keys(parse(&d.remove(i))?), left);
                    }
                    Ok(())
                },
            )
            .unwrap();
    }
}

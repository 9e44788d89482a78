//! The splice rules and the parsing of rows, case by case.

use super::*;

#[test]
fn other_writers_text_is_kept_exactly() {
    let text = r#"{"n":1E2,"z":-0,"s":"\/\u00e9","o":{"task":[1, 2]},"deploy \ud83d\ude80":"h\ud83c\udf89"}"#;
    let mut locks = Locks::parse(text).unwrap();
    assert_eq!(locks.to_json(), text);
    locks.add(Entry::new("backup", "t1"));
    assert_eq!(
        locks.to_json(),
        r#"{"backup":"t1","n":1E2,"z":-0,"s":"\/\u00e9","o":{"task":[1, 2]},"deploy \ud83d\ude80":"h\ud83c\udf89"}"#
    );
    assert!(locks.get("n").unwrap().held_by("1E2"));
    assert!(!locks.get("n").unwrap().held_by("100"));
    assert!(locks.get("s").unwrap().held_by("/é"));
    assert_eq!(locks.get("deploy 🚀").unwrap().holder_text(), "h🎉");
    assert_eq!(locks.remove("n").to_json(), r#"{"n":1E2}"#);
    assert_eq!(locks.remove("backup").to_json(), r#"{"backup":"t1"}"#);
    assert_eq!(
        locks.to_json(),
        r#"{"z":-0,"s":"\/\u00e9","o":{"task":[1, 2]},"deploy \ud83d\ude80":"h\ud83c\udf89"}"#
    );
}

/// Adding a lock and removing it gives back the text byte for byte,
/// whatever the whitespace; removing a foreign entry takes only it and
/// the separator next to it.
#[test]
fn splices_keep_every_other_byte() {
    for (text, added, a_gone, b_gone) in [
        ("{}", r#"{"n":"h"}"#, "", ""),
        ("{ }", r#"{"n":"h" }"#, "", ""),
        (
            r#"{"a":1,"b":2}"#,
            r#"{"n":"h","a":1,"b":2}"#,
            r#"{"b":2}"#,
            r#"{"a":1}"#,
        ),
        (
            " {\n  \"a\" : { \"x\" : [1, 2] } ,\n  \"b\" :\t2\n} \n",
            " {\"n\":\"h\",\n  \"a\" : { \"x\" : [1, 2] } ,\n  \"b\" :\t2\n} \n",
            " {\n  \n  \"b\" :\t2\n} \n",
            " {\n  \"a\" : { \"x\" : [1, 2] } \n} \n",
        ),
        (r#"{ "a":"x" }"#, r#"{"n":"h", "a":"x" }"#, "{  }", ""),
    ] {
        let mut locks = Locks::parse(text).unwrap();
        locks.add(Entry::new("n", "h"));
        assert_eq!(locks.text(), added, "{text:?}");
        assert_eq!(Locks::parse(locks.text()).unwrap(), locks);
        assert_eq!(locks.remove("n").len(), 1);
        assert_eq!(locks.text(), text, "{text:?}");
        if !a_gone.is_empty() {
            let mut l = Locks::parse(text).unwrap();
            l.remove("a");
            assert_eq!(l.text(), a_gone, "{text:?}");
        }
        if !b_gone.is_empty() {
            let mut l = Locks::parse(text).unwrap();
            l.remove("b");
            assert_eq!(l.text(), b_gone, "{text:?}");
            // The spans follow the text: what remains parses the same.
            assert_eq!(Locks::parse(l.text()).unwrap().names(), l.names());
        }
    }
    // Several at once, from the middle and the end.
    let mut l = Locks::parse(r#"{"a":1, "b":2, "c":3, "d":4}"#).unwrap();
    let gone = l.split_off(|e| matches!(e.name(), Some("b" | "d")));
    assert_eq!(gone.text(), r#"{"b":2,"d":4}"#);
    assert_eq!(l.text(), r#"{"a":1,  "c":3}"#);
    l.push(Entry::new("e", "x"));
    assert_eq!(l.text(), r#"{"a":1,  "c":3,"e":"x"}"#);
}

#[test]
fn plans_match_by_meaning() {
    let a = Locks::parse(r#"{"t":{"taskId":"18","pid":3},"n":1E2}"#).unwrap();
    let b = Locks::parse(r#"{"n" : 100, "t": {"pid": 3, "taskId": "1\u0038"}}"#).unwrap();
    assert!(a.same_meaning(&b));
    let c = Locks::parse(r#"{"t":{"taskId":"18","pid":4},"n":100}"#).unwrap();
    assert!(!a.same_meaning(&c));
    assert!(same_value("-0", "0"));
    assert!(same_value("2.50", "2.5"));
    assert!(!same_value("\"42\"", "42"));
    assert!(!same_value("[1,2]", "[2,1]"));
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
    let mut spaced = Locks::parse(r#"{ "b" : "x" , "c":"z", "b":"y" }"#).unwrap();
    spaced.dedupe();
    assert_eq!(spaced.text(), r#"{ "b" : "y" , "c":"z" }"#);
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

//! Text that came from the database (lock names, holders, row ids, raw
//! data, audit records, server messages) is shown to people escaped: a
//! stored ESC sequence must not recolour the terminal, and a stored newline
//! must not draw a fake table line or a fake `hint:` under a prompt. JSON
//! output keeps exact values; everything meant for a terminal goes through
//! [`shown`]. Durations are shown one way everywhere, too ([`age`]): in a
//! table's AGE column and in a holder's liveness alike.

use std::borrow::Cow;

/// Whether a character could change what a terminal shows beyond itself:
/// control characters (ESC, newline, carriage return, …) and the invisible
/// ones that reorder or break lines (bidi overrides, line separators).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
        )
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `s` with every such character escaped as Rust writes it (`\n`,
/// `\u{1b}`); unchanged (and not copied) when there is none.
pub fn shown(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A row id (or holder) as shown: escaped, and quoted when it begins or
/// ends with whitespace (which the `id` column's collation ignores at the
/// end, and which a reader would not see), or is empty.
pub fn shown_id(id: &str) -> Cow<'_, str> {
    if id.trim() != id || id.is_empty() {
        return Cow::Owned(format!("{:?}", id));
    }
    shown(id)
}

/// A duration in seconds as `1d02h`, `3h04m`, `5m06s` or `7s`.
pub fn age(secs: i64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h:02}h")
    } else if h > 0 {
        format!("{h}h{m:02}m")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_bidi_characters_are_escaped_and_nothing_else() {
        assert!(matches!(shown("plain é ☃ \"q\" \\"), Cow::Borrowed(_)));
        assert_eq!(shown("a\x1b[31mred\nfake"), "a\\u{1b}[31mred\\nfake");
        assert_eq!(shown("x\u{202e}gnp.exe"), "x\\u{202e}gnp.exe");
        assert_eq!(shown("t\tab\r"), "t\\tab\\r");
        assert_eq!(shown_id("plat "), "\"plat \"");
        assert_eq!(shown_id("plat"), "plat");
    }
}

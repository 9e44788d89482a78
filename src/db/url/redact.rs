//! Showing what may hold a password without the password: a URL that did
//! not parse (so nobody knows for sure where its password ends), and a
//! usage error that quotes the command line back.
//!
//! The rule for a URL: everything between the scheme and the last `@` may
//! be the password (a password may hold any character, `@ / ? # :` and
//! spaces included, when it was not percent-encoded), so all of it goes;
//! without an `@`, what follows a `:` that does not start a port goes, and
//! everything after it. A query parameter's value is shown only for the
//! parameters whose values are never secret (`socket`, `ssl-ca`,
//! `ssl-cert`, `ssl-key`, a valid `ssl-mode`): any other, a misspelt
//! `pasword=` included, is shown as `name=***`.

use super::super::tls::SslMode;

/// Parameters whose values are file names: shown as given.
const PATH_PARAMS: &[&str] = &["socket", "ssl-ca", "ssl-cert", "ssl-key"];

/// Whether `name` may be shown as a parameter's name: a plain word, not
/// something that may be a password typed where a name goes.
pub(super) fn name_like(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A query string with every value that may be secret replaced by `***`.
fn redact_query(q: &str) -> String {
    let shown: Vec<String> = q
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if PATH_PARAMS.contains(&k) => format!("{k}={v}"),
            Some(("ssl-mode", v)) if SslMode::parse(v).is_some() => format!("ssl-mode={v}"),
            Some((k, _)) if name_like(k) => format!("{k}=***"),
            None if name_like(pair) || pair.is_empty() => pair.to_string(),
            _ => "***".to_string(),
        })
        .collect();
    shown.join("&")
}

/// Where the part that may hold a user and password starts: after `://`,
/// or after the scheme's `:` (`mysql:user:pw@host/db`).
fn userinfo_start(raw: &str) -> usize {
    match raw.find("://") {
        Some(s) => s + 3,
        None => raw.find(':').map_or(0, |s| s + 1),
    }
}

/// Where `user:password` whose `@host` was left out has its `:` (the
/// password may follow it), in the part of `raw` from `start` on: a `:`
/// (after an IPv6 literal's `]`) not followed by a port number.
fn colon_password(raw: &str, start: usize) -> Option<usize> {
    let after = &raw[start..];
    if after.contains('@') {
        return None;
    }
    let authority = &after[..after.find(['/', '?']).unwrap_or(after.len())];
    let colon = match authority.rfind(']') {
        Some(close) => authority[close..].find(':').map(|c| close + c),
        None => authority.find(':'),
    }?;
    let port = &authority[colon + 1..];
    let is_port =
        port.chars().all(|ch| ch.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0);
    (!is_port).then_some(colon)
}

/// A URL that does not parse, as it may be shown (see the module's doc).
pub(super) fn redact_unparsed(raw: &str) -> String {
    let start = userinfo_start(raw);
    if let Some(at) = raw.rfind('@').filter(|at| *at >= start) {
        // The user name, when a `:` ends it and it is a plain one.
        let user = raw[start..at]
            .split_once(':')
            .map(|(u, _)| u)
            .filter(|u| {
                u.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.~%+".contains(c))
            })
            .map_or(String::new(), |u| format!("{u}:"));
        let rest = &raw[at + 1..];
        return match rest.split_once('?') {
            Some((before, q)) => format!("{}{user}***@{before}?{}", &raw[..start], redact_query(q)),
            None => format!("{}{user}***@{rest}", &raw[..start]),
        };
    }
    let after = &raw[start..];
    let authority_end = after.find(['/', '?']).unwrap_or(after.len());
    let (path, query) = match after[authority_end..].split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (&after[authority_end..], None),
    };
    if let Some(c) = colon_password(raw, start) {
        // The password may go on past a `/` or `?`: only a plain `/db`
        // is kept, and no parameter.
        let simple = path.len() > 1 && !path[1..].contains('/');
        return format!(
            "{}{}:***{}",
            &raw[..start],
            &after[..c],
            if simple { path } else { "" }
        );
    }
    match query {
        Some(q) => format!(
            "{}{}{path}?{}",
            &raw[..start],
            &after[..authority_end],
            redact_query(q)
        ),
        None => raw.to_string(),
    }
}

/// Whether a command-line word holds what looks like a database password:
/// a URL with `user:password@`, a password without its `@host`, or a
/// parameter named like a password (`?password=`, `?pwd=`, `?pasword=`).
pub fn carries_password(word: &str) -> bool {
    if !word.contains("://") {
        return false;
    }
    let start = userinfo_start(word);
    let userinfo = word
        .rfind('@')
        .filter(|at| *at >= start)
        .map(|at| &word[start..at]);
    let query_secret = word.split_once('?').is_some_and(|(_, q)| {
        q.split('&').any(|pair| {
            let k = pair.split('=').next().unwrap_or("").to_ascii_lowercase();
            ["pass", "pas", "pwd", "secret"]
                .iter()
                .any(|s| k.contains(s))
        })
    });
    userinfo.is_some_and(|u| u.contains(':'))
        || colon_password(word, start).is_some()
        || query_secret
}

/// A command-line word as a usage error may quote it.
fn redact_word(word: &str) -> String {
    if word.contains("://") || word.contains(":/") {
        return redact_unparsed(word);
    }
    match word.rfind('@') {
        Some(at) => format!("***@{}", &word[at + 1..]),
        None => word.to_string(),
    }
}

/// A usage error's text (which quotes arguments back, `'…'`) with every
/// part of `args` that may hold a password replaced: URLs as in
/// `redact_unparsed`; the pieces of a URL the shell split at spaces in
/// its password (from the word after the `://` to the next word with an
/// `@`); a value after `--flag=`; and, for what slips through, any quoted
/// word with `://` or `@`.
pub fn hide_in_usage(text: &str, args: &[String]) -> String {
    let mut swaps: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let value = a
            .strip_prefix("--")
            .and_then(|f| f.split_once('='))
            .map(|(_, v)| v);
        let mut open = false;
        for w in [Some(a.as_str()), value].into_iter().flatten() {
            let shown = redact_word(w);
            if shown != w {
                swaps.push((w.to_string(), shown));
            }
            open |= w.contains("://") && colon_password(w, userinfo_start(w)).is_some();
        }
        i += 1;
        // The pieces of a password the shell split at its spaces: up to
        // the next word with an `@`.
        if let Some(end) = open
            .then(|| args[i..].iter().position(|w| w.contains('@')))
            .flatten()
        {
            for w in &args[i..i + end] {
                swaps.push((w.clone(), "***".into()));
            }
            i += end;
        }
    }
    swaps.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    let mut out = text.to_string();
    for (from, to) in &swaps {
        out = out.replace(&format!("'{from}'"), &format!("'{to}'"));
    }
    // What slips through: any quoted word with `://` or `@`.
    let mut hidden = String::with_capacity(out.len());
    let mut parts = out.split('\'');
    if let Some(first) = parts.next() {
        hidden.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        hidden.push('\'');
        if i % 2 == 0 && (part.contains("://") || part.contains('@')) && !part.contains("***") {
            hidden.push_str(&redact_word(part));
        } else {
            hidden.push_str(part);
        }
    }
    hidden
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_password_goes_whatever_it_holds() {
        for (raw, shown) in [
            ("mysql://u:p@ss@h/db", "mysql://u:***@h/db"),
            (
                "mysql://u:a?b@c@h/db?ssl-mode=required",
                "mysql://u:***@h/db?ssl-mode=required",
            ),
            ("mysql://u:a?x=1&b@h/db", "mysql://u:***@h/db"),
            ("mysql://u:a/b/c@h/db", "mysql://u:***@h/db"),
            ("mysql://u:a#b@h/db", "mysql://u:***@h/db"),
            ("mysql://u:a b@h/db", "mysql://u:***@h/db"),
            ("mysql://u@x:a b@h/db", "mysql://***@h/db"),
            ("mysql://Zq9@h/db", "mysql://***@h/db"),
            ("mysql://root:s3cret/db", "mysql://root:***/db"),
            ("mysql://root:se/cr/db", "mysql://root:***"),
            ("mysql://root:se?cret/db", "mysql://root:***"),
            ("mysql://root:s3cret/db?x=1", "mysql://root:***/db"),
            ("mysql://root:123456789/db", "mysql://root:***/db"),
            ("mysql://h:3306/db?x=1", "mysql://h:3306/db?x=***"),
            ("mysql://[::1]:3306/db", "mysql://[::1]:3306/db"),
            (
                "mysql://[::1]/db?pasword=x&Password=y",
                "mysql://[::1]/db?pasword=***&Password=***",
            ),
            (
                "mysql://u@h/db?ssl-mode=Sekret&ssl-ca=/ca.pem",
                "mysql://***@h/db?ssl-mode=***&ssl-ca=/ca.pem",
            ),
            ("mysql://h/db?password:Sekret", "mysql://h/db?***"),
        ] {
            assert_eq!(redact_unparsed(raw), shown, "{raw}");
        }
    }

    #[test]
    fn usage_errors_hide_passwords_split_or_whole() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let text = "unexpected argument 'Se cret@h/db' found";
        assert_eq!(
            hide_in_usage(
                text,
                &args(&["migrate", "--url=mysql://u:Zq9", "Se cret@h/db"])
            ),
            "unexpected argument '***@h/db' found"
        );
        let text = "unexpected argument 'b' found";
        assert_eq!(
            hide_in_usage(text, &args(&["--url", "mysql://u:a", "b", "c@h/db"])),
            "unexpected argument '***' found"
        );
        let text = "unexpected argument 'mysql://u:it's@h/db' found";
        assert_eq!(
            hide_in_usage(text, &args(&["status", "mysql://u:it's@h/db"])),
            "unexpected argument 'mysql://u:***@h/db' found"
        );
        let text = "invalid value 'x@y' for '--timeout <DURATION>'";
        assert_eq!(
            hide_in_usage(text, &[]),
            "invalid value '***@y' for '--timeout <DURATION>'"
        );
        assert!(carries_password("mysql://u:p@h/db"));
        assert!(carries_password("mysql://h/db?password=x"));
        assert!(!carries_password("mysql://h:3306/db"));
        assert!(!carries_password("user@host"));
    }
}

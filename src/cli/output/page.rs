//! The read-only status page of `locksmith serve` (`/`): the table of
//! `locks dump` built from the same [`Dump`] document (each holder's
//! liveness highlighted), who waits, deadlocks, and the migrations. It
//! reloads itself (a meta refresh), and needs no script.
//!
//! Everything that came from the database is shown as on a terminal
//! ([`crate::shown`]: control characters as `\u{1b}`, `\n`) and then
//! escaped for HTML, so that stored text can neither inject markup nor
//! carry a raw escape byte into the page.

use super::dump::{Dump, DumpLiveness};
use super::style::age_text;
use crate::cli::scrape::Reading;
use crate::migrate::State;
use crate::shown::shown;
use std::fmt::Write as _;

/// What the page shows besides the reading.
pub struct PageMeta<'a> {
    /// The database, as shown (its password hidden).
    pub db: &'a str,
    /// Why the last read failed, when it did.
    pub error: Option<&'a str>,
    /// Seconds between reloads.
    pub refresh_secs: u64,
}

/// `s` as page text: escaped as on a terminal, then for HTML.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in shown(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body{font-family:DejaVu Sans,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
th,td{border:1px solid #bbb;padding:.3em .6em;text-align:left;vertical-align:top}\
th{background:#eee}\
td.dead{background:#f8d7da;color:#842029;font-weight:bold}\
td.alive{background:#d1e7dd;color:#0f5132}\
td.unknown{background:#fff3cd;color:#664d03}\
td.muted{color:#888}\
.error{background:#f8d7da;color:#842029;padding:.6em;border:1px solid #842029}\
.meta{color:#555}";

/// The whole page.
pub fn page(reading: Option<&Reading>, meta: &PageMeta) -> String {
    let mut p = String::new();
    let _ = write!(
        p,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"{}\">\
         <title>locksmith: locks</title><style>{STYLE}</style></head>\n<body>\n<h1>Locks</h1>\n",
        meta.refresh_secs
    );
    let when = reading
        .map(|r| micros_text(r.now_us))
        .unwrap_or_else(|| "-".into());
    let _ = writeln!(
        p,
        "<p class=\"meta\">{} &middot; read at {} (server clock) &middot; reloads every {}s</p>",
        html(meta.db),
        html(&when),
        meta.refresh_secs
    );
    if let Some(e) = meta.error {
        let _ = writeln!(
            p,
            "<p class=\"error\" id=\"error\">The database could not be read: {}</p>",
            html(e)
        );
    }
    if let Some(r) = reading {
        match &r.snapshot {
            Some(s) => {
                let d = Dump::of(s);
                locks_table(&mut p, &d);
                waiters(&mut p, &d);
            }
            None => p.push_str(
                "<p id=\"no-table\">There is no <code>locks</code> table yet; <code>locksmith migrate up</code> creates it.</p>\n",
            ),
        }
        migrations(&mut p, r);
    }
    p.push_str("</body></html>\n");
    p
}

/// Microseconds since the epoch as RFC 3339 UTC.
fn micros_text(us: i64) -> String {
    crate::db::value::epoch_text(&us.div_euclid(1_000_000).to_string())
}

/// A table cell.
fn cell(p: &mut String, class: &str, text: &str) {
    match class {
        "" => {
            let _ = write!(p, "<td>{}</td>", html(text));
        }
        c => {
            let _ = write!(p, "<td class=\"{c}\">{}</td>", html(text));
        }
    }
}

fn head(p: &mut String, id: &str, columns: &[&str]) {
    let _ = write!(p, "<table id=\"{id}\"><thead><tr>");
    for c in columns {
        let _ = write!(p, "<th>{c}</th>");
    }
    p.push_str("</tr></thead><tbody>\n");
}

fn liveness(p: &mut String, l: &DumpLiveness) {
    cell(p, &l.state, &format!("{}: {}", l.state, l.why));
}

/// The table of `locks dump`: one line per held lock.
fn locks_table(p: &mut String, d: &Dump) {
    head(p, "locks", &super::dump::COLUMNS);
    for r in &d.rows {
        let (changed, age) = (r.changed_cell(), r.age_cell());
        // Escaped for HTML where the cell is written.
        let version = r.version_cell(str::to_string);
        let version_class = if r.problem.is_some() { "dead" } else { "" };
        let line =
            |p: &mut String, lock: (&str, &str), holder: &str, live: Option<&DumpLiveness>| {
                p.push_str("<tr>");
                cell(p, "", &r.row);
                cell(p, lock.0, lock.1);
                cell(p, "", holder);
                match live {
                    Some(l) => liveness(p, l),
                    None => cell(p, "", ""),
                }
                cell(p, version_class, &version);
                cell(p, "", &changed);
                cell(p, "", &age);
                p.push_str("</tr>\n");
            };
        if let Some(raw) = &r.raw {
            line(p, ("dead", "(not a JSON object)"), raw, None);
        } else if r.locks.is_empty() {
            line(p, ("muted", "(no locks)"), "", None);
        } else {
            for l in &r.locks {
                let holder = crate::locks::entries::holder_text(l.holder.get());
                line(p, ("", &l.name), &holder, Some(&l.liveness));
            }
        }
        if let Some(problem) = &r.problem {
            let _ = writeln!(
                p,
                "<tr><td colspan=\"7\" class=\"dead\">row {}: {}; <code>locksmith locks repair</code> mends it</td></tr>",
                html(&r.row),
                html(problem)
            );
        }
    }
    p.push_str("</tbody></table>\n");
}

/// Who waits, and the deadlocks among them.
fn waiters(p: &mut String, d: &Dump) {
    p.push_str("<h2>Waiters</h2>\n");
    if d.waiters.is_empty() {
        p.push_str("<p id=\"no-waiters\">Nobody waits.</p>\n");
    } else {
        head(p, "waiters", &super::dump::WAITER_COLUMNS);
        // Escaped for HTML where each cell is written.
        let plain = str::to_string;
        for w in &d.waiters {
            p.push_str("<tr>");
            cell(p, "", &w.holder);
            cell(p, "", &w.wants_cell(plain, plain));
            cell(p, "", &w.since);
            cell(p, "", &age_text(w.waited_seconds as i64));
            cell(p, "", &w.blocked_cell(plain, plain));
            liveness(p, &w.liveness);
            p.push_str("</tr>\n");
        }
        p.push_str("</tbody></table>\n");
    }
    for cycle in &d.deadlocks {
        let _ = writeln!(
            p,
            "<p class=\"error\">{}</p>",
            html(&super::dump::deadlock_text(cycle, str::to_string))
        );
    }
}

/// The migrations: one line when all are applied, else each that is not.
fn migrations(p: &mut String, r: &Reading) {
    p.push_str("<h2>Migrations</h2>\n");
    let off: Vec<_> = r
        .migrations
        .iter()
        .filter(|m| m.state != State::Applied)
        .collect();
    if off.is_empty() {
        let _ = writeln!(
            p,
            "<p id=\"migrations\">All {} migrations are applied.</p>",
            r.migrations.len()
        );
    } else {
        head(p, "migrations", &["VERSION", "NAME", "STATE"]);
        for m in off {
            p.push_str("<tr>");
            cell(p, "", &m.version.to_string());
            cell(p, "", &m.name);
            cell(p, "unknown", m.state.label());
            p.push_str("</tr>\n");
        }
        p.push_str("</tbody></table>\n");
    }
    if let Some(g) = &r.guard {
        let _ = writeln!(
            p,
            "<p>The migration guard is held by {} since {}{}.</p>",
            html(&g.holder),
            html(g.since.as_deref().unwrap_or("-")),
            if g.stale {
                " (stale: its heartbeat stopped)"
            } else {
                ""
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::html;

    #[test]
    fn stored_text_is_text_on_the_page() {
        assert_eq!(
            html("<a href=\"x\" title='y'>&\u{1b}[31m\n</a>"),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;\\u{1b}[31m\\n&lt;/a&gt;"
        );
        assert_eq!(html("backup"), "backup");
    }
}

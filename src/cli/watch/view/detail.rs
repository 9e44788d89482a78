//! A lock's detail on the `watch` screen: the raw holder, what the
//! registry says about it, who waits for it and the last audit records of
//! its row. Apart from the list because it is the one view that reads the
//! registry and the audit, and the longest.

use super::{age_cell, heading, time_text, waiter_spans, Look, RECORDS};
use crate::cli::output::dump::DumpRegistration;
use crate::cli::output::tables::audit_line;
use crate::cli::watch::state::{waiters_of, LockKey, Records, Ui};
use crate::shown::age as age_text;
use crate::shown::{shown, shown_id};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

/// One lock in detail: the raw holder, what the registry says, who waits,
/// and the last audit records of its row.
pub(super) fn detail(
    f: &mut Frame,
    ui: &Ui,
    key: &LockKey,
    records: &Records,
    area: Rect,
    look: Look,
) {
    let s = ui.snapshot.as_ref();
    let held = s.and_then(|s| {
        s.held.iter().find(|h| {
            h.row == key.row && h.entry.key_text() == key.key && h.entry.holder_text() == key.holder
        })
    });
    let name = crate::locks::entries::holder_text(&key.key);
    let mut t = heading(
        &format!("Lock `{}` in row `{}`", shown(&name), shown_id(&key.row)),
        look,
    );
    let fact = |label: &str, value: String| -> Line<'static> {
        Line::from(vec![
            Span::styled(format!("  {label:<20}"), look.head()),
            Span::raw(value),
        ])
    };
    match (held, s) {
        (Some(h), Some(s)) => {
            t.push(fact(
                "holder, as stored",
                shown(h.entry.holder().get()).into_owned(),
            ));
            t.push(Line::from(vec![
                Span::styled(format!("  {:<20}", "liveness"), look.head()),
                Span::styled(
                    shown(&format!("{}: {}", h.liveness.state, h.liveness.why)).into_owned(),
                    look.verdict(h.liveness.state),
                ),
            ]));
            let since = match (h.since_us, h.since_exact) {
                (Some(us), true) => {
                    format!("{} (when it was taken, by the registry)", time_text(us))
                }
                (Some(us), false) => format!(
                    "at least since {} (the row's last change; the holder did not register)",
                    time_text(us)
                ),
                (None, _) => "unknown".into(),
            };
            t.push(fact("held since", since));
            t.push(fact("age", age_cell(ui, h, s.now_us)));
            match &h.registration {
                Some(r) => {
                    let d = DumpRegistration::of(r);
                    let lease = d
                        .lease_seconds
                        .map_or("none (judged by its process)".into(), |l| format!("{l}s"));
                    t.push(fact(
                        "registry",
                        format!(
                            "host {}, pid {}, lease {lease}, heartbeat {} ago, fence {}",
                            shown(&d.host),
                            d.pid,
                            age_text(d.heartbeat_age_seconds as i64),
                            d.fence.map_or("-".into(), |f| f.to_string())
                        ),
                    ));
                    if let Some(started) = d.started {
                        t.push(fact("process started", started));
                    }
                    t.push(fact(
                        "command",
                        d.command.map_or("-".into(), |c| shown(&c).into_owned()),
                    ));
                }
                None => t.push(fact(
                    "registry",
                    "not registered by locksmith (no host, pid or lease to judge it by)".into(),
                )),
            }
            let ws = waiters_of(s, h);
            if ws.is_empty() {
                t.push(fact("waiters", "none".into()));
            }
            for (i, w) in ws.iter().enumerate() {
                let mut spans = vec![Span::styled(
                    format!("  {:<20}", if i == 0 { "waiters" } else { "" }),
                    look.head(),
                )];
                spans.extend(waiter_spans(s, w, look));
                t.push(Line::from(spans));
            }
        }
        _ => t.push(Line::raw(format!(
            "  no longer held by {} (it was released, or taken over)",
            shown(&key.holder)
        ))),
    }
    t.push(Line::raw(""));
    t.push(Line::styled(
        format!(
            "Last audit records of row `{}` (locksmith locks history {}):",
            shown_id(&key.row),
            shown_id(&key.row)
        ),
        look.head(),
    ));
    match records {
        Records::Reading => t.push(Line::raw("  reading...")),
        Records::Failed(why) => t.push(Line::styled(
            format!("  cannot read them: {why}"),
            look.dead(),
        )),
        Records::Read(r) if r.is_empty() => t.push(Line::raw("  none")),
        Records::Read(r) => {
            let skip = r.len().saturating_sub(RECORDS);
            for rec in &r[skip..] {
                t.push(Line::raw(format!("  {}", audit_line(rec))));
            }
        }
    }
    f.render_widget(Paragraph::new(t).wrap(Wrap { trim: false }), area);
}

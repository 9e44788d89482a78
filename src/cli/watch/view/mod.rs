//! The `locks watch` screen, drawn from the state alone: a pure function of
//! a [`Ui`] (and whether colour is allowed) to a frame, so that it is
//! tested on ratatui's `TestBackend` without a terminal or a server. Its
//! words are the rest of the command line's: every stored text goes
//! through [`crate::shown`] as in `locks dump`, verdicts read `dead: why`,
//! ages are `age_text`'s, deadlocks and plans are `output`'s own lines.
//!
//! From the top: a title, the status line (what is held, or the lost
//! connection), deadlocks, rows no lock write can handle, the locks (or a
//! lock's detail, a plan, an outcome), the waiters, and the keys.

mod detail;

use super::state::{waiters_of, Link, Mode, Ui};
use crate::cli::output::dump::deadlock_line;
use crate::liveness::State as Verdict;
use crate::locks::{Held, LockData, Snapshot, Waiter};
use crate::shown::age as age_text;
use crate::shown::{shown, shown_id};
use detail::detail;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, Wrap};
use ratatui::Frame;

/// How many audit records a lock's detail shows.
pub(super) const RECORDS: usize = 5;

/// The styles, with or without colour (`NO_COLOR`): without, emphasis is
/// bold and reverse video only.
#[derive(Clone, Copy)]
struct Look {
    colour: bool,
}

impl Look {
    fn fg(self, c: Color) -> Style {
        match self.colour {
            true => Style::new().fg(c),
            false => Style::new(),
        }
    }
    fn dead(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    fn old(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }
    fn verdict(self, v: Verdict) -> Style {
        match v {
            Verdict::Dead => self.dead(),
            Verdict::Alive => self.fg(Color::Green),
            Verdict::Unknown => self.fg(Color::Yellow),
        }
    }
    fn alarm(self) -> Style {
        match self.colour {
            true => Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
            false => Style::new().add_modifier(Modifier::BOLD | Modifier::REVERSED),
        }
    }
    fn head(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
}

/// Draws the whole screen.
pub(super) fn draw(f: &mut Frame, ui: &Ui, colour: bool) {
    let look = Look { colour };
    let area = f.area();
    let alarms = alarms(ui);
    let waiters = match (&ui.mode, &ui.snapshot) {
        (Mode::List | Mode::Filter(_), Some(s)) if !s.waiters.is_empty() && area.height >= 16 => {
            (s.waiters.len().min(5) + 2) as u16
        }
        _ => 0,
    };
    // The status line wraps rather than lose its end on a narrow terminal.
    let (said, alarming) = status_text(ui);
    let status_rows = said.chars().count().div_ceil(area.width.max(1) as usize);
    let [title, status, alarm, body, wait, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(status_rows.clamp(1, 3) as u16),
        Constraint::Length(alarms.len().min(4) as u16),
        Constraint::Min(1),
        Constraint::Length(waiters),
        Constraint::Length(1),
    ])
    .areas(area);
    f.render_widget(Paragraph::new(title_line(ui)).style(look.head()), title);
    let status_style = match alarming {
        true => look.alarm(),
        false => Style::new(),
    };
    f.render_widget(
        Paragraph::new(said)
            .style(status_style)
            .wrap(Wrap { trim: false }),
        status,
    );
    let alarm_lines: Vec<Line> = alarms
        .into_iter()
        .take(alarm.height as usize)
        .map(|(l, dead)| {
            Line::styled(
                l,
                match dead {
                    true => look.alarm(),
                    false => look.old(),
                },
            )
        })
        .collect();
    f.render_widget(Paragraph::new(alarm_lines), alarm);
    match &ui.mode {
        Mode::List | Mode::Filter(_) => locks(f, ui, body, look),
        Mode::Detail { key, records } => detail(f, ui, key, records, body, look),
        Mode::Planning { row } => f.render_widget(
            Paragraph::new(format!(
                "Planning the release of the dead holders of row `{}`...",
                shown_id(row)
            )),
            body,
        ),
        Mode::Confirm { text, .. } => {
            let mut t = heading(&format!("locks force-release {} --dead", row_of(ui)), look);
            t.extend(plain(text, Style::new()));
            t.push(Line::raw(""));
            t.push(Line::styled("Proceed? [y/N]", look.head()));
            f.render_widget(Paragraph::new(t).wrap(Wrap { trim: false }), body);
        }
        Mode::Applying { text } => {
            let mut t = plain(text, Style::new());
            t.push(Line::raw(""));
            t.push(Line::styled("Releasing...", look.head()));
            f.render_widget(Paragraph::new(t).wrap(Wrap { trim: false }), body);
        }
        Mode::Outcome { text, failed } => {
            let style = match failed {
                true => look.dead(),
                false => Style::new(),
            };
            f.render_widget(
                Paragraph::new(plain(text, style)).wrap(Wrap { trim: false }),
                body,
            );
        }
    }
    if waiters > 0 {
        if let Some(s) = &ui.snapshot {
            waiters_panel(f, s, wait, look);
        }
    }
    f.render_widget(
        Paragraph::new(footer_line(ui)).style(Style::new().add_modifier(Modifier::REVERSED)),
        footer,
    );
}

/// The row of the plan on the screen, for its heading.
fn row_of(ui: &Ui) -> String {
    match &ui.mode {
        Mode::Confirm { plan, .. } => shown_id(&plan.row).into_owned(),
        _ => String::new(),
    }
}

fn title_line(ui: &Ui) -> String {
    let at = ui
        .snapshot
        .as_ref()
        .map(|s| format!(", server time {}", time_text(s.now_us)))
        .unwrap_or_default();
    format!(
        "locksmith locks watch: {}, every {}{at}",
        shown(&ui.source),
        humantime::format_duration(ui.interval)
    )
}

/// What is held, in numbers; or how the connection is doing when it is not
/// well (in alarm colours).
fn status_text(ui: &Ui) -> (String, bool) {
    match &ui.link {
        Link::Lost {
            why,
            tries,
            connection,
        } => {
            let since = ui
                .snapshot
                .as_ref()
                .map(|s| format!("; locks as of {}", time_text(s.now_us)))
                .unwrap_or_default();
            let what = match connection {
                true => "connection lost, reconnecting",
                false => "the last read failed, trying again",
            };
            return (format!("{what} (try {tries}): {why}{since}"), true);
        }
        Link::Slow { secs } => {
            return (
                format!(
                    "no answer from the server for {secs}s; still waiting (each read is bounded by --timeout)"
                ),
                true,
            );
        }
        Link::Up => {}
    }
    let Some(s) = &ui.snapshot else {
        return ("reading the locks...".into(), false);
    };
    let old = s.held.iter().filter(|h| ui.is_old(h)).count();
    let mut line = format!(
        "{} held in {} row(s): {} dead, {old} older than {}; {} waiting",
        s.held.len(),
        s.rows.len(),
        s.dead(),
        humantime::format_duration(ui.warn_age),
        s.waiters.len()
    );
    if !ui.filter.is_empty() {
        line.push_str(&format!(
            "; filter `{}`: {} shown",
            shown(&ui.filter),
            ui.visible().len()
        ));
    }
    if s.registry.is_none() {
        line.push_str("; no holder registry (`locksmith migrate up` creates it)");
    }
    (line, false)
}

/// Deadlocks (true: in alarm colours) and rows no lock write can handle,
/// as `locks dump --waiters` and `locks dump` say them.
fn alarms(ui: &Ui) -> Vec<(String, bool)> {
    let Some(s) = &ui.snapshot else {
        return Vec::new();
    };
    let mut out: Vec<(String, bool)> = s
        .deadlocks
        .iter()
        .map(|c| (deadlock_line(c), true))
        .collect();
    for r in &s.rows {
        match (&r.data, r.problem()) {
            (LockData::Raw { .. }, _) => out.push((
                format!(
                    "warning: row `{}` holds data that is not a JSON object (see `locksmith locks dump`)",
                    shown_id(&r.id)
                ),
                false,
            )),
            (_, Some(what)) => out.push((
                format!(
                    "warning: row `{}`: {}; `locksmith locks repair {}` mends it",
                    shown_id(&r.id),
                    shown(&what),
                    shown_id(&r.id)
                ),
                false,
            )),
            _ => {}
        }
    }
    out
}

/// A lock's age: `7s`, `2h11m`; `>=` when it is the row's last change (a
/// lower bound); `!` at the end when it is older than `--warn-age`.
fn age_cell(ui: &Ui, h: &Held, now_us: i64) -> String {
    let Some(age) = h.age_secs(now_us) else {
        return "-".into();
    };
    format!(
        "{}{}{}",
        if h.since_exact { "" } else { ">=" },
        age_text(age as i64),
        if ui.is_old(h) { "!" } else { "" }
    )
}

/// The waiters behind a lock, in one cell: the first, and how many more.
fn waiters_cell(s: &Snapshot, h: &Held) -> String {
    let ws = waiters_of(s, h);
    let Some(w) = ws.first() else {
        return String::new();
    };
    let more = match ws.len() {
        1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    format!(
        "{} wants {}, {}{more}",
        shown_id(&w.registration.holder),
        shown(&w.registration.lock),
        age_text(waited(s, w))
    )
}

fn waited(s: &Snapshot, w: &Waiter) -> i64 {
    (s.now_us - w.registration.since_us).max(0) / 1_000_000
}

/// The table of locks.
fn locks(f: &mut Frame, ui: &Ui, area: Rect, look: Look) {
    let Some(s) = &ui.snapshot else {
        return;
    };
    let visible = ui.visible();
    if visible.is_empty() {
        let what = match ui.filter.is_empty() {
            true => "No lock is held.".to_string(),
            false => format!("No lock matches the filter `{}`.", shown(&ui.filter)),
        };
        f.render_widget(Paragraph::new(what), area);
        return;
    }
    let cells: Vec<[String; 6]> = visible
        .iter()
        .map(|h| {
            [
                shown_id(&h.row).into_owned(),
                shown(&h.entry.shown_name()).into_owned(),
                shown(&h.entry.holder_text()).into_owned(),
                shown(&format!("{}: {}", h.liveness.state, h.liveness.why)).into_owned(),
                age_cell(ui, h, s.now_us),
                waiters_cell(s, h),
            ]
        })
        .collect();
    let header = ["ROW", "LOCK", "HOLDER", "LIVENESS", "AGE", "WAITERS"];
    let width = |i: usize, cap: usize| {
        let w = cells
            .iter()
            .map(|c| c[i].chars().count())
            .chain([header[i].len()])
            .max()
            .unwrap_or(0);
        w.min(cap) as u16
    };
    let widths = [
        Constraint::Length(width(0, 24)),
        Constraint::Length(width(1, 24)),
        Constraint::Length(width(2, 28)),
        Constraint::Fill(3),
        Constraint::Length(width(4, 10)),
        Constraint::Fill(2),
    ];
    // Rows on screen below the header; the selection stays in view.
    let room = area.height.saturating_sub(1).max(1) as usize;
    let offset = ui.cursor.saturating_sub(room - 1);
    let rows: Vec<Row> = visible
        .iter()
        .zip(cells)
        .enumerate()
        .skip(offset)
        .take(room)
        .map(|(i, (h, c))| {
            let [row, lock, holder, liveness, age, waiting] = c;
            let dead = h.liveness.state == Verdict::Dead;
            let name_style = match dead {
                true => look.dead(),
                false => Style::new(),
            };
            let age_style = match ui.is_old(h) {
                true => look.old(),
                false => Style::new(),
            };
            let line = Row::new([
                Cell::new(row).style(name_style),
                Cell::new(lock).style(name_style),
                Cell::new(holder).style(name_style),
                Cell::new(liveness).style(look.verdict(h.liveness.state)),
                Cell::new(age).style(age_style),
                Cell::new(waiting),
            ]);
            match i == ui.cursor {
                true => line.style(Style::new().add_modifier(Modifier::REVERSED)),
                false => line,
            }
        })
        .collect();
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(look.head()))
        .column_spacing(2);
    f.render_widget(table, area);
}

/// Who waits, since when, for what, and what is in the way.
fn waiters_panel(f: &mut Frame, s: &Snapshot, area: Rect, look: Look) {
    let mut lines = vec![
        Line::raw(""),
        Line::styled(format!("WAITING ({})", s.waiters.len()), look.head()),
    ];
    let room = area.height.saturating_sub(2) as usize;
    for (i, w) in s.waiters.iter().enumerate() {
        if i + 1 == room && s.waiters.len() > room {
            lines.push(Line::raw(format!(
                "... and {} more (locksmith locks dump --waiters)",
                s.waiters.len() - i
            )));
            break;
        }
        lines.push(Line::from(waiter_spans(s, w, look)));
    }
    f.render_widget(Paragraph::new(lines), area);
}

/// One waiter, what matters first: `vm:99 waits 12s for backup in
/// platform, blocked by backup (held by vm:1); alive: …; since T`.
fn waiter_spans(s: &Snapshot, w: &Waiter, look: Look) -> Vec<Span<'static>> {
    let r = &w.registration;
    let mut wants = format!("{} in {}", shown(&r.lock), shown_id(&r.row));
    for p in &r.unless_held {
        wants.push_str(&format!(", any {}", shown(p)));
    }
    let blocked: Vec<String> = w
        .blocked_by
        .iter()
        .map(|(l, h)| format!("{} (held by {})", shown(l), shown_id(h)))
        .collect();
    let blocked = match blocked.is_empty() {
        true => "nothing in its way now".into(),
        false => format!("blocked by {}", blocked.join(", ")),
    };
    vec![
        Span::raw(format!(
            "{} waits {} for {wants}, {blocked}; ",
            shown_id(&r.holder),
            age_text(waited(s, w))
        )),
        Span::styled(
            shown(&format!("{}: {}", w.liveness.state, w.liveness.why)).into_owned(),
            look.verdict(w.liveness.state),
        ),
        Span::raw(format!("; since {}", time_text(r.since_us))),
    ]
}

/// The keys of the mode on the screen.
fn footer_line(ui: &Ui) -> String {
    match &ui.mode {
        Mode::List => format!(
            " q quit  / filter  Enter detail  d release dead  s sort: {}  Up/Down select",
            ui.sort.label()
        ),
        Mode::Filter(typed) => format!(" filter: {}_   Enter apply  Esc clear", shown(typed)),
        Mode::Detail { .. } => " Esc back  d release the dead holders of this row  q quit".into(),
        Mode::Planning { .. } => " Esc back".into(),
        Mode::Confirm { .. } => " y release  any other key: change nothing".into(),
        Mode::Applying { .. } => " releasing (keys wait until it is done)".into(),
        Mode::Outcome { .. } => " any key: back to the list".into(),
    }
}

/// A heading line.
fn heading(s: &str, look: Look) -> Vec<Line<'static>> {
    vec![Line::styled(s.to_string(), look.head())]
}

/// Text of `output`'s (already escaped), line by line.
fn plain(s: &str, style: Style) -> Vec<Line<'static>> {
    s.lines()
        .map(|l| Line::styled(l.to_string(), style))
        .collect()
}

/// Server time as RFC 3339 UTC, to the second.
fn time_text(us: i64) -> String {
    crate::db::value::epoch_text(&us.div_euclid(1_000_000).to_string())
}

/// The plain text of the screen's frame, for tests.
#[cfg(test)]
pub(super) fn screen(ui: &Ui, w: u16, h: u16) -> Vec<String> {
    let mut t =
        ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).expect("a test terminal");
    t.draw(|f| draw(f, ui, false)).expect("draws");
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests;

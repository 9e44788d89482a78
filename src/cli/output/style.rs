//! The table style, decided once: UTF-8 boxes on a terminal, ASCII
//! otherwise; colour only on a terminal without `NO_COLOR`; on a terminal
//! of known width, tables fit it by wrapping only the free-text columns
//! (timestamps, versions and names are never split); long cells clipped;
//! ages in short units.

use comfy_table::{presets, Cell, ColumnConstraint, ContentArrangement, Table, Width};
use std::io::IsTerminal;

/// Whether stdout gets colour: a terminal, and `NO_COLOR` unset or empty.
fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A table with the house style: UTF-8 boxes on a terminal, ASCII otherwise.
pub(super) fn table(headers: &[&str]) -> Table {
    let mut t = Table::new();
    if std::io::stdout().is_terminal() {
        t.load_preset(presets::UTF8_FULL_CONDENSED);
    } else {
        t.load_preset(presets::ASCII_BORDERS_ONLY_CONDENSED);
    }
    // Never comfy-table's own guess at the width: a terminal that reports
    // 0 columns would squash every column to one character.
    t.set_content_arrangement(ContentArrangement::Disabled);
    if !colour() {
        t.force_no_tty();
    } else {
        t.enforce_styling();
    }
    t.set_header(headers.iter().map(Cell::new));
    t
}

/// The width of the terminal stdout is, when it is one and says (a
/// pseudo-terminal may say 0: unknown).
fn terminal_width() -> Option<u16> {
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size_of(std::io::stdout())
        .map(|(terminal_size::Width(w), _)| w)
        .filter(|w| *w > 0)
}

/// The table as text. On a terminal of known width it is fitted to it:
/// only the columns in `free` (free text: holders, change descriptions)
/// may wrap; every other column keeps each value on one line, even if the
/// table must then be wider than the terminal. Elsewhere nothing wraps.
pub(super) fn render(mut t: Table, free: &[usize]) -> String {
    if let Some(width) = terminal_width() {
        t.set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(width);
        for (i, column) in t.column_iter_mut().enumerate() {
            if free.contains(&i) {
                // Wraps, but keeps enough to read.
                column.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(8)));
            } else {
                column.set_constraint(ColumnConstraint::ContentWidth);
            }
        }
    }
    t.to_string()
}

/// Longest value a table cell shows; `--format json` always has all of it.
const CELL_MAX: usize = 120;

/// A value for a table cell, shortened when very long.
pub(super) fn clip(s: &str) -> String {
    if s.chars().count() <= CELL_MAX {
        return s.to_string();
    }
    let head: String = s.chars().take(CELL_MAX).collect();
    format!("{head}… ({} bytes in all; see --format json)", s.len())
}

/// A duration in seconds as `1d02h`, `3h04m`, `5m06s` or `7s`.
pub(super) fn age_text(secs: i64) -> String {
    crate::shown::age(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_cells_are_clipped() {
        assert_eq!(clip("short"), "short");
        let long = "x".repeat(500);
        let c = clip(&long);
        assert!(
            c.starts_with(&"x".repeat(CELL_MAX))
                && c.ends_with("(500 bytes in all; see --format json)"),
            "{c}"
        );
    }

    #[test]
    fn ages() {
        assert_eq!(age_text(7), "7s");
        assert_eq!(age_text(366), "6m06s");
        assert_eq!(age_text(3 * 3600 + 240), "3h04m");
        assert_eq!(age_text(90_000), "1d01h");
    }
}

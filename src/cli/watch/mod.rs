//! `locksmith locks watch`: the locks live, full screen, for the operator
//! who would otherwise run `locks dump --waiters` in a loop; and from the
//! same screen, the release of a row's dead holders (`d`), planned, shown
//! and confirmed as `locks force-release --dead` does it.
//!
//! Three parts, each small: [`state`] is what is shown and what each key
//! does (no I/O), [`view`] draws a state into a frame (pure), and this
//! module is the loop around them: the terminal (entered and always
//! restored, on a panic and a signal too), the keys (read on a thread of
//! their own), and the database, one operation at a time on one
//! connection: a read (`observe`) every `--interval`, each bounded by
//! `--timeout`, and what the keys ask for. A read that fails keeps the last
//! locks on the screen under a status line, and the next one reconnects.
//!
//! Without a terminal, or with `--once`, it prints one snapshot as `locks
//! dump --waiters` does, and exits.

mod state;
mod view;

use super::args::WatchArgs;
use super::ctx::{audit_command, Ctx};
use super::output::Format;
use super::signals::{interrupted, GRACE};
use crate::db::Deadline;
use crate::error::{Error, Kind, Remedy, Result};
use crate::liveness::Probe;
use crate::locks::{AuditInfo, AuditRecord, Change, Edit, LockTable, Snapshot, WriteOpts};
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event};
use ratatui::crossterm::{cursor, execute, terminal};
use ratatui::Terminal;
use state::{Action, Ui};
use std::collections::VecDeque;
use std::future::Future;
use std::io::IsTerminal;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Runs `locks watch`.
pub(super) async fn run(ctx: &Ctx, args: WatchArgs) -> Result<u8> {
    let probe = args.probe.probe();
    let live = !args.once && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    if !live {
        let snap =
            super::locks::with_table(ctx, async |t| t.observe(&args.rows, probe.as_ref()).await)
                .await?;
        super::locks::print_dump(&snap, Format::Table, true)?;
        return Ok(super::exit::OK);
    }
    // Connected, and the first look taken, before the screen changes: a
    // wrong URL or row is an error on the terminal as it was.
    let table = ctx.lock_table(&ctx.url, ctx.deadline()).await?;
    let first = ctx
        .stop
        .guard(
            table
                .until(ctx.deadline())
                .observe(&args.rows, probe.as_ref()),
        )
        .await;
    let result = match first {
        Ok(snap) => {
            let mut ui = Ui::new(ctx.url.redacted().to_string(), args.interval, args.warn_age);
            ui.observed(snap);
            let io = Io {
                table: table.clone(),
                rows: args.rows.clone(),
                probe,
                timeout: ctx.timeout,
            };
            screen(ctx, io, ui).await
        }
        Err(e) => Err(e),
    };
    let _ = table.until(Deadline::after(GRACE)).disconnect().await;
    result
}

/// What the loop needs to reach the database.
#[derive(Clone)]
struct Io {
    table: LockTable,
    rows: Vec<String>,
    probe: Option<Probe>,
    timeout: Duration,
}

/// An operation on the database, waiting for the connection.
enum Request {
    Refresh,
    History(String),
    Plan(String, Edit),
    CarryOut(Box<Change>, Edit),
}

/// What an operation came to.
enum Outcome {
    Observed(Result<Snapshot>),
    History(String, Result<Vec<AuditRecord>>),
    Planned(String, Edit, Result<Change>),
    Done(Edit, Result<Change>),
}

type Job = Pin<Box<dyn Future<Output = Outcome>>>;

impl Io {
    /// Starts `r`, bounded by `--timeout`.
    fn start(&self, r: Request) -> Job {
        let me = self.clone();
        let t = self.table.until(Deadline::after(self.timeout));
        Box::pin(async move {
            match r {
                Request::Refresh => Outcome::Observed(t.observe(&me.rows, me.probe.as_ref()).await),
                Request::History(row) => {
                    let read = t.history(Some(&row)).await;
                    Outcome::History(row, read)
                }
                Request::Plan(row, edit) => {
                    let plan = t.plan(&row, &edit, None).await;
                    Outcome::Planned(row, edit, plan)
                }
                Request::CarryOut(plan, edit) => {
                    let row = shell_word(&plan.row);
                    let write = WriteOpts {
                        expect_version: None,
                        dry_run: false,
                        audit: Some(AuditInfo::new(
                            edit.action(),
                            format!(
                                "{} (key d: locksmith locks force-release {row} --dead)",
                                audit_command()
                            ),
                        )),
                    };
                    let done = t.carry_out(&plan, &edit, &write).await;
                    Outcome::Done(edit, done)
                }
            }
        })
    }
}

/// The full-screen loop, until a quit key (exit 0) or a signal.
async fn screen(ctx: &Ctx, io: Io, mut ui: Ui) -> Result<u8> {
    let colour = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut screen = Screen::enter()?;
    let keys = Keys::start();
    let mut rx = keys.rx;
    let mut stop = ctx.stop.clone();
    let mut tick = tokio::time::interval(ui.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first look is on the screen already.
    tick.tick().await;
    // The "no answer for Ns" line counts up while a read hangs.
    let mut second = tokio::time::interval(Duration::from_secs(1));
    second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut queue: VecDeque<Request> = VecDeque::new();
    let mut job: Option<(Job, Instant, bool)> = None;
    // The row of a change under way, if one is.
    let mut writing: Option<String> = None;
    screen.draw(&ui, colour)?;
    let end = loop {
        if job.is_none() {
            if let Some(r) = queue.pop_front() {
                let refresh = matches!(r, Request::Refresh);
                writing = match &r {
                    Request::CarryOut(plan, _) => Some(plan.row.clone()),
                    _ => None,
                };
                job = Some((io.start(r), Instant::now(), refresh));
            }
        }
        let running = async {
            match job.as_mut() {
                Some((j, _, _)) => j.await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            sig = stop.next() => {
                let note = writing.take().map(|row| format!(
                    "the release of dead holders may or may not have been made; {}",
                    super::output::hints::hint(&Remedy::CheckChange { row })
                )).unwrap_or_default();
                break Err(interrupted(sig, &note));
            }
            key = rx.recv() => match key {
                Some(Ok(Event::Key(k))) => match ui.key(k) {
                    Action::Quit => break Ok(super::exit::OK),
                    Action::Nothing => {}
                    Action::History(row) => queue.push_back(Request::History(row)),
                    Action::Plan(row) => {
                        let probed = state::probed_in(ui.snapshot.as_ref(), &row);
                        queue.push_back(Request::Plan(row, Edit::Dead(probed)));
                    }
                    Action::CarryOut { plan, edit } => queue.push_back(Request::CarryOut(plan, edit)),
                },
                // A resize, a paste, a mouse event: drawn again below.
                Some(Ok(_)) => {}
                Some(Err(e)) => break Err(terminal_error("reading keys", e)),
                None => break Err(Kind::Io("the terminal's key reader stopped".into()).into()),
            },
            _ = tick.tick() => {
                let pending = job.as_ref().is_some_and(|(_, _, refresh)| *refresh)
                    || queue.iter().any(|r| matches!(r, Request::Refresh));
                if !pending {
                    queue.push_back(Request::Refresh);
                }
            }
            _ = second.tick() => {
                if let Some((_, since, true)) = &job {
                    if since.elapsed() > ui.interval.max(Duration::from_secs(1)) {
                        ui.slow(since.elapsed());
                    }
                }
            }
            outcome = running => {
                job = None;
                writing = None;
                match outcome {
                    Outcome::Observed(Ok(s)) => ui.observed(s),
                    Outcome::Observed(Err(e)) => ui.lost(&e),
                    Outcome::History(row, read) => ui.history(&row, read),
                    Outcome::Planned(row, edit, plan) => ui.planned(&row, edit, plan),
                    Outcome::Done(edit, done) => {
                        ui.done(&edit, done);
                        queue.push_front(Request::Refresh);
                    }
                }
            }
        }
        screen.draw(&ui, colour)?;
    };
    keys.stop.store(true, Ordering::SeqCst);
    drop(screen);
    if let Some(t) = keys.thread {
        let _ = t.join();
    }
    end
}

/// A row id as one shell word, for the audit record's command.
fn shell_word(s: &str) -> String {
    if s.is_empty() || s.contains(|c: char| c.is_whitespace() || "'\"\\$`;&|<>()*?#~".contains(c)) {
        format!("{s:?}")
    } else {
        s.to_string()
    }
}

/// Whether the terminal is in the screen's modes now (raw, alternate
/// screen, cursor hidden), so that it is restored exactly once, whichever
/// comes first: the end of the loop, an error, or a panic.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// The terminal while the screen is on it. Dropping it (however the loop
/// ends) puts the terminal back: out of the alternate screen, the cursor
/// shown, raw mode off. A panic does the same before its message is
/// printed, so that the message is readable.
struct Screen {
    term: Terminal<CrosstermBackend<std::io::Stdout>>,
}

impl Screen {
    fn enter() -> Result<Screen> {
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            let next = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                restore();
                next(info);
            }));
        });
        terminal::enable_raw_mode().map_err(|e| terminal_error("raw mode", e))?;
        ACTIVE.store(true, Ordering::SeqCst);
        let entered = execute!(
            std::io::stdout(),
            terminal::EnterAlternateScreen,
            cursor::Hide
        )
        .map_err(|e| terminal_error("the alternate screen", e))
        .and_then(|()| {
            Terminal::new(CrosstermBackend::new(std::io::stdout()))
                .map_err(|e| terminal_error("the screen", e))
        });
        match entered {
            Ok(term) => Ok(Screen { term }),
            Err(e) => {
                restore();
                Err(e)
            }
        }
    }

    fn draw(&mut self, ui: &Ui, colour: bool) -> Result<()> {
        self.term
            .draw(|f| view::draw(f, ui, colour))
            .map(|_| ())
            .map_err(|e| terminal_error("drawing", e))
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        restore();
    }
}

/// Puts the terminal back, once.
fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = execute!(
            std::io::stdout(),
            terminal::LeaveAlternateScreen,
            cursor::Show
        );
        let _ = terminal::disable_raw_mode();
    }
}

/// The terminal failed: an I/O failure (exit 1), not a bug in locksmith.
fn terminal_error(what: &str, e: std::io::Error) -> Error {
    Error::with_source(Kind::Io(format!("the terminal failed ({what}): {e}")), e)
}

/// The keys (and resizes), read on a thread of their own: crossterm's
/// reads block, and the loop must go on drawing meanwhile. The thread
/// looks at `stop` every 100 ms.
struct Keys {
    rx: mpsc::UnboundedReceiver<std::io::Result<Event>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Keys {
    fn start() -> Keys {
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("watch-keys".into())
            .spawn(move || {
                while !flag.load(Ordering::SeqCst) {
                    let next = match event::poll(Duration::from_millis(100)) {
                        Ok(false) => continue,
                        Ok(true) => event::read(),
                        Err(e) => Err(e),
                    };
                    let failed = next.is_err();
                    if tx.send(next).is_err() || failed {
                        return;
                    }
                }
            })
            .ok();
        Keys { rx, stop, thread }
    }
}

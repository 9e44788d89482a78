//! `locksmith serve`: a Prometheus exporter and a read-only status page,
//! for watching the locks without a terminal on the database host.
//!
//! * `/metrics`: the metrics of [`super::output::metrics`], in the text
//!   exposition format;
//! * `/`: the status page of [`super::output::page`] (the `locks dump`
//!   table, reloading itself);
//! * `/healthz`: `ok` while the exporter runs (it does not read the
//!   database: a database that cannot be read shows as `locksmith_up 0`,
//!   not as a dead exporter).
//!
//! A scrape reads the database at most once per `--interval`: scrapes
//! (and page loads) within it get the last read. Each read is bounded by
//! `--scrape-timeout` (and `--timeout`), so that a frozen or unreachable
//! database makes the answer `locksmith_up 0` in time instead of a scrape
//! that hangs. One read at a time, by one task: a scrape that comes while
//! it reads gets that read, or, past its own timeout, `locksmith_up 0`.

use super::args::ServeArgs;
use super::ctx::Ctx;
use super::exit;
use super::output::metrics::{self, MetricsOptions, ScrapeMeta};
use super::output::note;
use super::output::page::{self, PageMeta};
use super::scrape::{Reader, Reading};
use super::signals::GRACE;
use crate::db::Deadline;
use crate::error::{Error, Kind, Result};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a read leaves for the scrapes that follow it.
struct Scraped {
    /// When it ended.
    at: Instant,
    /// What it found, or why it found nothing.
    result: std::result::Result<Reading, String>,
    /// How long it took.
    took: Duration,
}

/// A scrape's request for a fresh enough read: where to send it.
type Ask = tokio::sync::oneshot::Sender<Arc<Scraped>>;

/// The exporter's state, shared by every request.
struct Shared {
    /// To the one task that reads the database (see [`reads`]).
    asks: tokio::sync::mpsc::Sender<Ask>,
    last: Mutex<Option<Arc<Scraped>>>,
    /// Reads that failed or timed out.
    errors: Mutex<u64>,
    /// The last failure said on stderr, so that a lasting outage is said
    /// once, and its end too.
    said: Mutex<Option<String>>,
    interval: Duration,
    scrape_timeout: Duration,
    metrics: MetricsOptions,
    db: String,
}

/// How far ahead of the scrape's own timeout the database read gives up,
/// so that the answer is written in time.
const MARGIN: Duration = Duration::from_millis(100);

pub(super) async fn run(ctx: &Ctx, args: ServeArgs) -> Result<u8> {
    if args.scrape_timeout.is_zero() {
        return Err(Kind::Invalid("--scrape-timeout must be more than 0s".into()).into());
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Kind::Invalid(format!("cannot listen on {}: {e}", args.listen)))?;
    let local = listener.local_addr()?;
    let (asks, asked) = tokio::sync::mpsc::channel(64);
    let shared = Arc::new(Shared {
        asks,
        last: Mutex::new(None),
        errors: Mutex::new(0),
        said: Mutex::new(None),
        interval: args.interval,
        scrape_timeout: args.scrape_timeout.min(ctx.timeout),
        metrics: args.metrics.options(),
        db: ctx.url.redacted().to_string(),
    });
    let reader = Reader::new(
        ctx.url.clone(),
        ctx.connect(),
        args.probe.probe(),
        Vec::new(),
    );
    let app = Router::new()
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/", get(page_handler))
        .with_state(shared.clone());
    note(&format!(
        "listening on http://{local}/ (/metrics, /healthz), reading {} at most every {}",
        shared.db,
        humantime::format_duration(args.interval)
    ));
    // The reads run on this thread (a library read is not Send); the
    // server's tasks ask for them over a channel.
    let here = tokio::task::LocalSet::new();
    let mut stop = ctx.stop.clone();
    let ends = std::sync::OnceLock::new();
    // The grace runs from the signal.
    let grace = || *ends.get_or_init(|| tokio::time::Instant::now() + GRACE);
    here.run_until(async move {
        let (stop_reads, stopped) = tokio::sync::oneshot::channel::<()>();
        let reads = tokio::task::spawn_local(reads(reader, asked, shared, stopped));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
        });
        tokio::pin!(server);
        let served = tokio::select! {
            sig = stop.next() => {
                note(&format!("stopping (signal {sig})"));
                let _ = tx.send(());
                let _ = stop_reads.send(());
                // Requests under way, and closing the connections, get
                // what is left of the grace.
                tokio::time::timeout_at(grace(), &mut server).await.ok()
            }
            done = &mut server => Some(done),
        };
        let _ = tokio::time::timeout_at(grace(), reads).await;
        match served {
            Some(Ok(Err(e))) => Err(Error::from(e)),
            Some(Err(e)) => Err(Kind::Internal(format!("the server failed: {e}")).into()),
            _ => Ok(exit::OK),
        }
    })
    .await
}

/// The one task that reads the database: it answers each ask with the
/// last read when it is fresh enough, else with a new one (asks that came
/// meanwhile get the same). A read is bounded by the scrape timeout (its
/// deadline, and a timer behind it); a stop ends it at once and closes
/// the connections.
async fn reads(
    mut reader: Reader,
    mut asked: tokio::sync::mpsc::Receiver<Ask>,
    shared: Arc<Shared>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let first = tokio::select! {
            ask = asked.recv() => match ask {
                Some(a) => a,
                None => break,
            },
            _ = &mut stop => break,
        };
        let s = match shared.fresh() {
            Some(s) => s,
            None => {
                let start = Instant::now();
                let limit = shared.scrape_timeout.saturating_sub(MARGIN);
                let read =
                    tokio::time::timeout(limit + MARGIN, reader.read(Deadline::after(limit)));
                let result = tokio::select! {
                    r = read => match r {
                        Ok(r) => r.map_err(|e| e.to_string()),
                        Err(_) => Err(shared.too_slow()),
                    },
                    _ = &mut stop => break,
                };
                shared.keep(result, start.elapsed())
            }
        };
        let _ = first.send(s.clone());
        while let Ok(ask) = asked.try_recv() {
            let _ = ask.send(s.clone());
        }
    }
    reader.close(Deadline::after(GRACE)).await;
}

impl Shared {
    /// The last read, when it is recent enough to serve.
    fn fresh(&self) -> Option<Arc<Scraped>> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.as_ref()
            .filter(|s| s.at.elapsed() < self.interval)
            .cloned()
    }

    fn errors(&self) -> u64 {
        *self.errors.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn too_slow(&self) -> String {
        format!(
            "the read did not finish within {} (--scrape-timeout)",
            humantime::format_duration(self.scrape_timeout)
        )
    }

    /// A fresh enough read: the last one, or a new one, within the scrape
    /// timeout whatever the database does (past it, a failure that says
    /// so, `locksmith_up 0`).
    async fn scrape(&self) -> Arc<Scraped> {
        if let Some(s) = self.fresh() {
            return s;
        }
        let start = Instant::now();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let answer = async {
            self.asks.send(tx).await.ok()?;
            rx.await.ok()
        };
        match tokio::time::timeout(self.scrape_timeout, answer).await {
            Ok(Some(s)) => s,
            _ => Arc::new(Scraped {
                at: Instant::now(),
                result: Err(self.too_slow()),
                took: start.elapsed(),
            }),
        }
    }

    /// Records a read for the scrapes that follow, counting and saying a
    /// failure (a lasting one once).
    fn keep(&self, result: std::result::Result<Reading, String>, took: Duration) -> Arc<Scraped> {
        {
            let mut said = self.said.lock().unwrap_or_else(|p| p.into_inner());
            match &result {
                Err(e) => {
                    *self.errors.lock().unwrap_or_else(|p| p.into_inner()) += 1;
                    if said.as_deref() != Some(e.as_str()) {
                        note(&format!("cannot read the database: {e}"));
                        *said = Some(e.clone());
                    }
                }
                Ok(_) => {
                    if said.take().is_some() {
                        note("the database can be read again");
                    }
                }
            }
        }
        let s = Arc::new(Scraped {
            at: Instant::now(),
            result,
            took,
        });
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(s.clone());
        s
    }
}

async fn metrics_handler(State(shared): State<Arc<Shared>>) -> Response {
    let s = shared.scrape().await;
    let meta = ScrapeMeta {
        took: s.took,
        errors: Some(shared.errors()),
    };
    match metrics::exposition(s.result.as_ref().ok(), &meta, &shared.metrics) {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "locksmith: the metrics could not be written\n",
        )
            .into_response(),
    }
}

async fn page_handler(State(shared): State<Arc<Shared>>) -> Response {
    let s = shared.scrape().await;
    let meta = PageMeta {
        db: &shared.db,
        error: s.result.as_ref().err().map(String::as_str),
        refresh_secs: shared.interval.as_secs().max(5),
    };
    let html = page::page(s.result.as_ref().ok(), &meta);
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

async fn healthz() -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "ok\n",
    )
        .into_response()
}

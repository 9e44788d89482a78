//! The shared server and who the tests are on it: the run's account, with
//! a fresh random password, allowed only on the run's databases; and the
//! reaper (this test binary, re-run in a special mode) that drops that
//! account and every database of the run when the run ends, however it ends.

use super::*;

/// The shared server, and who the tests are on it.
pub(super) struct Shared {
    /// host:port
    pub(super) addr: String,
    /// URL of an account that can create databases and users (no db part).
    pub(super) admin: String,
    /// This run's id: every database and account of the run starts with it.
    pub(super) run: String,
    pub(super) password: String,
    /// Keeps the server (or the reaper) alive until this process exits.
    pub(super) _keep: Keep,
}

pub(super) enum Keep {
    Server(Throwaway),
    Reaper(ChildStdin),
}

static SHARED: OnceLock<Shared> = OnceLock::new();

static COUNTER: AtomicUsize = AtomicUsize::new(0);

pub(super) fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        let run = format!("lt_{:08x}", fastrand::u32(..));
        let password: String = std::iter::repeat_with(fastrand::alphanumeric)
            .take(24)
            .collect();
        let (addr, admin, keep) = match std::env::var("LOCKSMITH_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                let parsed = url::Url::parse(&url)
                    .expect("LOCKSMITH_TEST_DATABASE_URL must be a mysql:// URL");
                let addr = format!(
                    "{}:{}",
                    parsed.host_str().unwrap_or("127.0.0.1"),
                    parsed.port().unwrap_or(3306)
                );
                let mut admin = parsed.clone();
                admin.set_path("/");
                let admin = admin.to_string();
                let reaper = start_reaper(&admin, &run);
                (addr, admin, Keep::Reaper(reaper))
            }
            _ => {
                let server = Throwaway::start(1, &[]);
                (server.addr(0), server.admin_url(0), Keep::Server(server))
            }
        };
        let s = Shared {
            addr,
            admin,
            run,
            password,
            _keep: keep,
        };
        block(async {
            let mut c = admin_conn(&s.admin).await;
            let (user, pw) = (user_of(&s.run), &s.password);
            c.query_drop(format!("CREATE USER '{user}'@'%' IDENTIFIED BY '{pw}'"))
                .await
                .unwrap();
            let pattern = s.run.replace('_', "\\_");
            c.query_drop(format!("GRANT ALL ON `{pattern}\\_%`.* TO '{user}'@'%'"))
                .await
                .unwrap();
            c.disconnect().await.unwrap();
        });
        s
    })
}

fn user_of(run: &str) -> String {
    format!("{run}_u")
}

/// The account tests connect with.
pub fn user() -> String {
    user_of(&shared().run)
}

/// Its password: random, made for this run, never written anywhere.
pub fn password() -> &'static str {
    &shared().password
}

/// True when the harness started the shared server itself, so a test may
/// change server-wide settings: nobody else uses it, and it is thrown away.
pub fn own_server() -> bool {
    matches!(shared()._keep, Keep::Server(_))
}

/// Runs SQL as the administrator of the shared server.
pub fn admin_sql(stmts: &str) {
    let (admin, stmts) = (shared().admin.clone(), stmts.to_string());
    block(async move {
        let mut c = admin_conn(&admin).await;
        c.query_drop(stmts).await.unwrap();
        c.disconnect().await.unwrap();
    })
}

/// A name for a database or account of this run, unique within it.
pub fn unique_name(what: &str) -> String {
    format!(
        "{}_{what}{}",
        shared().run,
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

pub async fn admin_conn(url: &str) -> mysql_async::Conn {
    let opts = mysql_async::Opts::from_url(url).expect("admin URL");
    let opts = mysql_async::OptsBuilder::from_opts(opts).prefer_socket(false);
    mysql_async::Conn::new(opts)
        .await
        .expect("connect as admin")
}

/// Starts the reaper: this test binary again, running only [`reaper`],
/// which waits for our end (its stdin closing) and then drops the run's
/// account and databases. It gets the admin URL through its environment,
/// never its command line. It outlives this process by design, so it is
/// never waited for.
#[allow(clippy::zombie_processes)]
fn start_reaper(admin: &str, run: &str) -> ChildStdin {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "harness::account::reaper",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env("LOCKSMITH_TEST_REAPER", format!("{run} {admin}"))
        .env_remove("LOCKSMITH_TEST_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the reaper");
    child.stdin.take().unwrap()
}

/// Not a test: the reaper mode of this binary (see [`start_reaper`]). It
/// does nothing unless started as the reaper.
#[test]
#[ignore = "runs only as the harness's reaper"]
fn reaper() {
    let Ok(spec) = std::env::var("LOCKSMITH_TEST_REAPER") else {
        return;
    };
    let (run, admin) = spec.split_once(' ').unwrap();
    // Wait for the test process to end, however it ends.
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    block(async {
        let mut c = admin_conn(admin).await;
        let pattern = format!("{}\\_%", run.replace('_', "\\_"));
        let dbs: Vec<String> = c
            .exec(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
                (&pattern,),
            )
            .await
            .unwrap();
        for db in dbs {
            let _ = c.query_drop(format!("DROP DATABASE `{db}`")).await;
        }
        let users: Vec<(String, String)> = c
            .exec(
                "SELECT User, Host FROM mysql.user WHERE User LIKE ?",
                (&pattern,),
            )
            .await
            .unwrap();
        for (u, h) in users {
            let _ = c.query_drop(format!("DROP USER '{u}'@'{h}'")).await;
        }
        let _ = c.disconnect().await;
    });
}

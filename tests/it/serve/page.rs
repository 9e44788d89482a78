//! The status page of `locksmith serve`, rendered by headless Chromium: a
//! screenshot of the right size, and the page's text naming the held lock
//! and its holder's liveness, with stored markup and escape bytes shown as
//! text, never as markup or raw bytes.

use super::*;
use std::path::Path;

/// Runs headless Chromium with these arguments (and a profile of its own
/// in `dir`), within 90 s; its stdout.
fn chromium(bin: &Path, dir: &Path, args: &[&str]) -> String {
    let profile = dir.join(format!("profile-{}", fastrand::u32(..)));
    let out_file = dir.join(format!("out-{}", fastrand::u32(..)));
    let mut child = std::process::Command::new(bin)
        .args([
            "--headless",
            // As root, Chromium runs only without its sandbox.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out_file).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run chromium");
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} did not finish in 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "chromium {args:?}: {status}");
    std::fs::read_to_string(out_file).unwrap()
}

#[test]
fn the_status_page_renders_in_headless_chromium() {
    let Some(bin) = tool("chromium") else {
        return;
    };
    let db = TestDb::migrated();
    let mut holder = mortal();
    let pid = holder.id().to_string();
    db.locksmith(&[
        "locks",
        "acquire",
        "platform",
        "backup",
        "--holder",
        "task-1",
        "--holder-pid",
        &pid,
    ])
    .success();
    holder.kill().unwrap();
    holder.wait().unwrap();
    // Another writer's markup and escape sequences, as stored.
    db.sql(
        r#"INSERT INTO locks (id, dataJson, version) VALUES ('web', '{"<script>alert(1)</script>":"<b>x</b>","e\\u001b[31mx":"h&i"}', 3)"#,
    );
    let s = Served::start(&db.url(), &[]);
    let url = format!("http://{}/", s.addr);
    let raw = s.get("/");
    assert_eq!(raw.status, 200);
    assert_eq!(raw.content_type, "text/html; charset=utf-8");
    assert!(!raw.body.contains('\u{1b}'), "a raw ESC: {:?}", raw.body);
    assert!(
        raw.body
            .contains("<meta http-equiv=\"refresh\" content=\"5\">"),
        "{}",
        raw.body
    );

    let dir = tempfile::tempdir().unwrap();
    let dom = chromium(&bin, dir.path(), &["--dump-dom", &url]);
    assert!(!dom.contains('\u{1b}'), "a raw ESC: {dom:?}");
    // The held lock, its holder and its liveness, highlighted.
    let line = dom
        .lines()
        .find(|l| l.contains("<td>backup</td>"))
        .unwrap_or_else(|| panic!("no line for backup: {dom}"));
    assert!(
        line.starts_with(
            "<tr><td>platform</td><td>backup</td><td>task-1</td><td class=\"dead\">dead: "
        ),
        "{line}"
    );
    assert!(line.contains(pid.as_str()), "{line}");
    // Stored markup is text: no script element, no bold; escapes shown.
    assert!(!dom.contains("<script"), "{dom}");
    assert!(!dom.contains("<b>"), "{dom}");
    let web: Vec<&str> = dom
        .lines()
        .filter(|l| l.starts_with("<tr><td>web</td>"))
        .collect();
    assert_eq!(web.len(), 2, "{dom}");
    for (line, want) in web.iter().zip([
        "<tr><td>web</td><td>&lt;script&gt;alert(1)&lt;/script&gt;</td><td>&lt;b&gt;x&lt;/b&gt;</td><td class=\"unknown\">unknown: not registered by locksmith</td><td>3</td>",
        "<tr><td>web</td><td>e\\u{1b}[31mx</td><td>h&amp;i</td><td class=\"unknown\">unknown: not registered by locksmith</td><td>3</td>",
    ]) {
        assert!(line.starts_with(want), "{line}\nnot {want}");
    }
    assert!(dom.contains("<p id=\"migrations\">All 3 migrations are applied.</p>"));

    // A screenshot of the size asked for.
    let png = dir.path().join("page.png");
    chromium(
        &bin,
        dir.path(),
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,720",
            &url,
        ],
    );
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let size = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!((size(16), size(20)), (1280, 720));
    if let Ok(keep) = std::env::var("LOCKSMITH_TEST_KEEP_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
}

//! A terminal for full-screen commands (`locks watch`): a tmux server of
//! the test's own (its own socket in a temp dir, no configuration file), one detached
//! session of a fixed size running a plain shell with DATABASE_URL set and
//! `locksmith` on its PATH. The test types at it with send-keys and reads
//! the screen with capture-pane, waiting on what the screen shows (never a
//! fixed sleep). tmux comes with `scripts/test`.

use super::*;

/// A tmux server and its one session, `t`. Dropping it kills the server
/// and everything running in it, and removes its socket.
pub struct Tmux {
    /// Where its socket lives (not tmux's shared directory, where a
    /// server that was killed leaves its socket behind).
    dir: tempfile::TempDir,
}

impl Tmux {
    /// A session `cols` × `rows` running `bash` with DATABASE_URL set to
    /// `url`.
    pub fn start(cols: u16, rows: u16, url: &str) -> Tmux {
        let t = Tmux {
            dir: tempfile::tempdir().expect("a temp dir for tmux's socket"),
        };
        let bin_dir = bin().parent().unwrap().display().to_string();
        let path = format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default());
        let out = t
            .tmux()
            .args(["new-session", "-d", "-s", "t", "-x", &cols.to_string()])
            .args(["-y", &rows.to_string()])
            // Run by tmux's default shell, which need not pass PS1 on.
            .arg("PS1='$ ' exec bash --norc --noprofile")
            // The server, and so the shell, gets this environment.
            .env("PATH", path)
            .env("DATABASE_URL", url)
            .env("XDG_CACHE_HOME", cache_home())
            .env("HISTFILE", "/dev/null")
            .env("LC_ALL", "C.UTF-8")
            .env_remove("NO_COLOR")
            .env_remove("TMUX")
            .output()
            .expect("tmux (scripts/test installs it)");
        assert!(out.status.success(), "tmux new-session: {out:?}");
        t.wait_for("the shell's prompt", |s| s.starts_with('$'));
        t
    }

    fn tmux(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S")
            .arg(self.dir.path().join("socket"))
            .args(["-f", "/dev/null"]);
        c
    }

    /// Runs tmux with these arguments; its stdout.
    fn ask(&self, args: &[&str]) -> String {
        let out = self.tmux().args(args).output().expect("tmux");
        assert!(out.status.success(), "tmux {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types `line` at the shell and presses Enter; the shell then says
    /// `exit=N` when the command ends.
    pub fn run(&self, line: &str) {
        self.ask(&[
            "send-keys",
            "-t",
            "t",
            "-l",
            &format!("{line}; echo \"exit=$?\""),
        ]);
        self.keys(&["Enter"]);
    }

    /// Presses keys, by tmux's names (`Enter`, `Escape`, `Down`, `q`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.ask(&args);
    }

    /// Types text as it is.
    pub fn type_text(&self, text: &str) {
        self.ask(&["send-keys", "-t", "t", "-l", text]);
    }

    /// The screen as it is now, line by line (trailing spaces dropped).
    pub fn screen(&self) -> String {
        self.ask(&["capture-pane", "-p", "-t", "t"])
    }

    /// A tmux format of the pane (`#{alternate_on}`, `#{cursor_flag}`).
    pub fn display(&self, format: &str) -> String {
        self.ask(&["display-message", "-p", "-t", "t", format])
            .trim_end()
            .to_string()
    }

    /// Resizes the window (and so the pane) to `cols` × `rows`.
    pub fn resize(&self, cols: u16, rows: u16) {
        self.ask(&[
            "resize-window",
            "-t",
            "t",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
        ]);
    }

    /// Polls the screen until `cond` holds (up to 60 s), naming `what` and
    /// showing the last screen when it does not. Returns that screen.
    #[track_caller]
    pub fn wait_for(&self, what: &str, mut cond: impl FnMut(&str) -> bool) -> String {
        let mut last = String::new();
        let ok = poll_until(std::time::Duration::from_secs(60), || {
            last = self.screen();
            cond(&last)
        });
        assert!(
            ok,
            "waited 60s, but the screen never showed {what}:\n{last}"
        );
        last
    }

    /// Waits until the command typed by [`Tmux::run`] has ended, and
    /// returns its exit status.
    #[track_caller]
    pub fn exit_status(&self) -> i32 {
        let screen = self.wait_for("the command's exit status", |s| {
            s.lines().any(|l| l.starts_with("exit="))
        });
        let line = screen.lines().find(|l| l.starts_with("exit=")).unwrap();
        line["exit=".len()..].trim().parse().unwrap()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux().arg("kill-server").output();
    }
}

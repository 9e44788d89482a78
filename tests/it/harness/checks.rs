//! What a finished `locksmith` run printed and how it exited ([`Run`]), and
//! its checks, which look at the status, stdout and stderr together; and
//! [`normal`], which replaces what changes from run to run so that output can
//! be compared whole.

use super::*;

/// A holder (or any raw JSON locksmith reports exactly as stored) as a
/// JSON value, to compare.
pub fn json(raw: &serde_json::value::RawValue) -> serde_json::Value {
    serde_json::from_str(raw.get()).unwrap()
}

/// What a finished `locksmith` run printed, and how it exited. Its checks
/// look at status, stdout and stderr together: a success says nothing on
/// stderr and prints exactly what the test says (nothing, for
/// [`Run::success`]); an error leaves stdout empty unless the test says
/// otherwise.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Asserts exit 0, an empty stderr and an empty stdout: for commands
    /// that print nothing when they work (`acquire`, `release`, `run` of a
    /// quiet command).
    #[track_caller]
    pub fn success(&self) -> &Run {
        self.quiet_success();
        self.no_stdout()
    }

    /// Asserts exit 0, an empty stderr, and stdout exactly this.
    #[track_caller]
    pub fn succeeds_with(&self, stdout: &str) -> &Run {
        self.quiet_success();
        self.stdout_is(stdout)
    }

    /// Asserts exit 0, an empty stderr, and stdout, once [`normal`] has
    /// replaced what changes from run to run (times, ages, `HOST:PID`, the
    /// run's account), exactly this.
    #[track_caller]
    pub fn succeeds_like(&self, stdout: &str) -> &Run {
        self.quiet_success();
        self.stdout_like(stdout)
    }

    /// Asserts exit 0 and an empty stderr, and parses stdout as JSON into
    /// `T` (the output types deny unknown fields, so nothing goes unseen).
    #[track_caller]
    pub fn success_json<T: serde::de::DeserializeOwned>(&self) -> T {
        self.quiet_success();
        self.json()
    }

    /// Asserts exit 0 and an empty stderr, and hands stdout to `check`: for
    /// output that is open-ended by nature (help, man page, completions,
    /// measured numbers), where the caller asserts what matters in it.
    #[track_caller]
    pub fn succeeds_where(&self, check: impl FnOnce(&str)) -> &Run {
        self.quiet_success();
        assert!(!self.stdout.is_empty(), "expected output: {self:#?}");
        check(&self.stdout);
        self
    }

    /// The same run with each known value in both streams replaced by its
    /// name (`[(&holder, "<FIRST>")]`): to compare whole output holding a
    /// value that [`normal`] would hide but the test knows.
    pub fn named(&self, names: &[(&str, &str)]) -> Run {
        let (mut stdout, mut stderr) = (self.stdout.clone(), self.stderr.clone());
        for (value, name) in names {
            stdout = stdout.replace(value, name);
            stderr = stderr.replace(value, name);
        }
        Run {
            code: self.code,
            stdout,
            stderr,
        }
    }

    #[track_caller]
    fn quiet_success(&self) {
        assert_eq!(self.code, 0, "expected success: {self:#?}");
        assert_eq!(self.stderr, "", "expected a quiet stderr: {self:#?}");
    }

    /// Asserts this exit code, an error on stderr (`locksmith: …`, several
    /// lines at most) and nothing on stdout.
    #[track_caller]
    pub fn fails(&self, code: i32) -> &Run {
        self.fails_with_output(code);
        assert_eq!(
            self.stdout, "",
            "an error prints nothing on stdout: {self:#?}"
        );
        self
    }

    /// Asserts this exit code, nothing on stdout, and stderr exactly this.
    #[track_caller]
    pub fn fails_with(&self, code: i32, stderr: &str) -> &Run {
        self.fails(code).stderr_is(stderr)
    }

    /// Like [`Run::fails_with`], comparing stderr once [`normal`] has
    /// replaced what changes from run to run.
    #[track_caller]
    pub fn fails_like(&self, code: i32, stderr: &str) -> &Run {
        self.fails(code).stderr_like(stderr)
    }

    /// Like [`Run::fails`], for the few commands that print data before
    /// failing (`migrate status --check`, a partly applied `migrate up`):
    /// the caller asserts stdout itself.
    #[track_caller]
    pub fn fails_with_output(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "wrong exit code: {self:#?}");
        assert!(self.stderr.starts_with("locksmith: "), "stderr: {self:#?}");
        self
    }

    /// Asserts stdout is exactly this.
    #[track_caller]
    pub fn stdout_is(&self, s: &str) -> &Run {
        assert_eq!(self.stdout, s, "stdout differs: {self:#?}");
        self
    }

    /// Asserts stderr is exactly this.
    #[track_caller]
    pub fn stderr_is(&self, s: &str) -> &Run {
        assert_eq!(self.stderr, s, "stderr differs: {self:#?}");
        self
    }

    /// Asserts stdout, once [`normal`] has replaced what changes from run
    /// to run, is exactly this.
    #[track_caller]
    pub fn stdout_like(&self, s: &str) -> &Run {
        assert_eq!(normal(&self.stdout), s, "stdout differs: {self:#?}");
        self
    }

    /// Asserts stderr, once [`normal`] has replaced what changes from run
    /// to run, is exactly this.
    #[track_caller]
    pub fn stderr_like(&self, s: &str) -> &Run {
        assert_eq!(normal(&self.stderr), s, "stderr differs: {self:#?}");
        self
    }

    /// Asserts stderr, whole, matches this regular expression (anchored at
    /// both ends): for a message with a hole in it for words that are not
    /// locksmith's (the OS's, the resolver's).
    #[track_caller]
    pub fn stderr_matches(&self, pattern: &str) -> &Run {
        let re = regex::Regex::new(&format!("^(?s:{pattern})$")).unwrap();
        assert!(
            re.is_match(&self.stderr),
            "stderr does not match {pattern:?}: {self:#?}"
        );
        self
    }

    /// Asserts stdout is empty.
    #[track_caller]
    pub fn no_stdout(&self) -> &Run {
        assert_eq!(self.stdout, "", "expected no stdout: {self:#?}");
        self
    }

    /// Asserts the password appears nowhere in the output.
    #[track_caller]
    pub fn no_secret(&self) -> &Run {
        let pw = password();
        assert!(
            !self.stdout.contains(pw) && !self.stderr.contains(pw),
            "password leaked: {self:#?}"
        );
        self
    }

    /// Parses stdout as JSON into T (the caller has checked the status and
    /// stderr; see [`Run::success_json`]).
    #[track_caller]
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {self:#?}"))
    }
}

/// A table as [`normal`] leaves it: the header's cells, then each row's,
/// one space apart, in the frame.
pub fn table(header: &str, rows: &[&str]) -> String {
    let mut t = format!("+-+\n| {header} |\n+=+\n");
    for row in rows {
        t.push_str(&format!("| {row} |\n"));
    }
    t.push_str("+-+\n");
    t
}

/// `locks dump`'s table, normalised: each row's cells up to its version
/// (its last change and age are `<TIME> <AGE>`).
pub fn dump_table(rows: &[&str]) -> String {
    let rows: Vec<String> = rows.iter().map(|r| format!("{r} <TIME> <AGE>")).collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    table("ROW LOCK HOLDER LIVENESS VERSION LAST CHANGE AGE", &rows)
}

/// `migrate status`'s table, normalised.
pub fn status_table(rows: &[&str]) -> String {
    table("VERSION NAME STATE APPLIED ON", rows)
}

/// `locks history`'s table, normalised.
pub fn history_table(rows: &[&str]) -> String {
    table("# AT WHO ACTION ROW CHANGE", rows)
}

/// Output with what changes from run to run replaced, so that it can be
/// compared whole:
///
/// - RFC 3339 times (`2026-01-02T03:04:05.678Z`) become `<TIME>`;
/// - `OSUSER@HOST` (this process's) becomes `<ME>`, and `HOST:PID` becomes
///   `<HOST>:<PID>`;
/// - the run's account (`lt_…_u`) becomes `<USER>`, and the client host in
///   the server's "Access denied for user 'U'@'HOST'" becomes `<CLIENT>`;
/// - `MariaDB 10.11.9` becomes `MariaDB <VERSION>`;
/// - in table lines (those starting with `|` or `+`), runs of spaces,
///   dashes and equals signs become one, so column widths (which follow
///   the contents) do not matter, and an age after a time becomes `<AGE>`.
pub fn normal(s: &str) -> String {
    use regex::Regex;
    static RULES: OnceLock<Vec<(Regex, String)>> = OnceLock::new();
    let rules = RULES.get_or_init(|| {
        let (host, me) = (
            regex::escape(&locksmith::host::hostname()),
            regex::escape(&locksmith::host::os_user()),
        );
        [
            (
                r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z".to_string(),
                "<TIME>".to_string(),
            ),
            (format!(r"\b{me}@{host}\b"), "<ME>".into()),
            (format!(r"\b{host}:\d+\b"), "<HOST>:<PID>".into()),
            (format!(r"{}\b", regex::escape(&user())), "<USER>".into()),
            (
                r"Access denied for user '([^']*)'@'[^']*'".into(),
                "Access denied for user '$1'@'<CLIENT>'".into(),
            ),
            (r"MariaDB \d+\.\d+\.\d+".into(), "MariaDB <VERSION>".into()),
        ]
        .into_iter()
        .map(|(re, to)| (Regex::new(&re).unwrap(), to))
        .collect()
    });
    static TABLE: OnceLock<[Regex; 4]> = OnceLock::new();
    let [spaces, dashes, equals, age] = TABLE.get_or_init(|| {
        [
            Regex::new(" +").unwrap(),
            Regex::new("-+").unwrap(),
            Regex::new("=+").unwrap(),
            Regex::new(r"<TIME> \d+[dhms](\d\d[hms])? \|").unwrap(),
        ]
    });
    let mut s = s.to_string();
    for (re, to) in rules {
        s = re.replace_all(&s, to.as_str()).into_owned();
    }
    let mut out = String::with_capacity(s.len());
    for line in s.split_inclusive('\n') {
        if line.starts_with('|') || line.starts_with('+') {
            let l = spaces.replace_all(line, " ");
            let l = if l.starts_with('+') {
                equals
                    .replace_all(&dashes.replace_all(&l, "-"), "=")
                    .into_owned()
            } else {
                l.into_owned()
            };
            out.push_str(&age.replace_all(&l, "<TIME> <AGE> |"));
        } else {
            out.push_str(line);
        }
    }
    out
}

impl Run {
    /// Asserts none of these secrets appears in stdout or stderr.
    #[track_caller]
    pub fn no_secrets(&self, secrets: &[&str]) -> &Run {
        for s in secrets {
            assert!(
                !self.stdout.contains(s) && !self.stderr.contains(s),
                "a secret leaked: {self:#?}"
            );
        }
        self
    }
}

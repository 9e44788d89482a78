//! The text after each command's options in `--help`: two or three real
//! examples, and at the top level the exit codes. Kept apart from the clap
//! types so that `args.rs` stays a list of flags.

/// `locksmith --help`: examples, where the connection comes from, and the
/// exit codes (from [`super::exit`], the one table of them).
pub fn top() -> String {
    format!("{TOP}\n\n{}", super::exit::help_text())
}

const TOP: &str = "\
Examples:
  locksmith --url mysql://app@db:3306/app --password-file /run/secrets/db migrate up
  locksmith locks dump
  locksmith locks run platform backup --wait 10m -- /usr/local/bin/backup.sh

Connection: --url, or DATABASE_URL (also from ./.env); the password from the
URL, --password-file, MYSQL_PWD or ~/.my.cnf [client], in that order.";

/// `locksmith migrate --help`.
pub const MIGRATE: &str = "\
Examples:
  locksmith migrate up
  locksmith migrate status --check
  locksmith migrate down --dry-run";

/// `locksmith migrate up --help`.
pub const UP: &str = "\
Examples:
  locksmith migrate up                      # on every deploy; a no-op when current
  locksmith migrate up --dry-run            # print the SQL, change nothing
  locksmith --wait-for-db 60s migrate up    # in a boot script, before the server is up";

/// `locksmith migrate down --help`.
pub const DOWN: &str = "\
Examples:
  locksmith migrate down --dry-run          # what the newest migration's down step does
  locksmith migrate down                    # roll back the newest migration
  locksmith migrate down --target 1         # roll back everything above version 1";

/// `locksmith migrate status --help`.
pub const STATUS: &str = "\
Examples:
  locksmith migrate status
  locksmith migrate status --check          # exit 6 unless every migration is applied
  locksmith migrate status --format json";

/// `locksmith migrate mark-applied --help`.
pub const MARK_APPLIED: &str = "\
Examples:
  locksmith migrate status                  # shows `interrupted` and what is off
  locksmith migrate mark-applied 3 --dry-run
  locksmith migrate mark-applied 3          # asks first; --yes for scripts";

/// `locksmith locks --help`.
pub const LOCKS: &str = "\
Examples:
  locksmith locks dump
  locksmith locks run platform update --wait 5m -- ./update.sh
  locksmith locks force-release platform --holder vm:15380 --expect-version 4";

/// `locksmith locks dump --help`.
pub const DUMP: &str = "\
Examples:
  locksmith locks dump
  locksmith locks dump platform --waiters
  locksmith locks dump --probe 'cloudron-task-alive \"$LOCKSMITH_HOLDER\"'
  locksmith locks dump --format json | jq '.rows[].locks[]'
  locksmith locks dump --format prometheus > locks.prom   # node_exporter's textfile collector";

/// `locksmith locks force-release --help`.
pub const FORCE_RELEASE: &str = "\
Examples:
  locksmith locks force-release platform --dead --dry-run
  locksmith locks force-release platform --dead --probe 'cloudron-task-alive \"$LOCKSMITH_HOLDER\"'
  locksmith locks force-release platform backup --dry-run
  locksmith locks force-release platform --holder vm:15380 --expect-version 4
  locksmith locks force-release platform --all --yes";

/// `locksmith locks bump --help`.
pub const BUMP: &str = "\
Examples:
  locksmith locks bump platform --dry-run
  locksmith locks bump platform --expect-version 7 --yes";

/// `locksmith locks repair --help`.
pub const REPAIR: &str = "\
Examples:
  locksmith locks dump platform             # shows what is wrong with the row
  locksmith locks repair platform --dry-run
  locksmith locks repair platform           # asks first; the old text goes to the audit trail";

/// `locksmith locks history --help`.
pub const HISTORY: &str = "\
Examples:
  locksmith locks history
  locksmith locks history platform
  locksmith locks history --format json";

/// `locksmith locks acquire --help`.
pub const ACQUIRE: &str = "\
Examples:
  locksmith locks acquire platform backup --holder task-42
  locksmith locks acquire platform update --holder task-43 --wait 5m --unless-held 'app_*'
  locksmith locks acquire platform backup --holder task-42 --lease 30s --take-over-dead";

/// `locksmith locks renew --help`.
pub const RENEW: &str = "\
Examples:
  locksmith locks acquire platform backup --holder task-42 --lease 30s
  locksmith locks renew platform backup --holder task-42    # every 10s";

/// `locksmith locks release --help`.
pub const RELEASE: &str = "\
Examples:
  locksmith locks release platform backup --holder task-42
  locksmith locks release platform backup --holder task-42 --format json";

/// `locksmith locks run --help`.
pub const RUN: &str = "\
Examples:
  locksmith locks run platform backup -- /usr/local/bin/backup.sh
  locksmith locks run platform backup --take-over-dead --wait 5m -- ./backup.sh
  locksmith locks run platform update --wait 10m --unless-held 'app_*' -- ./update.sh
  locksmith locks run platform app_mail --wait 30m --unless-held update -- ./task.sh mail";

/// `locksmith locks watch --help`: the keys, then examples.
pub const WATCH: &str = "\
Keys:
  Up/Down, k/j, PgUp/PgDn, Home/End   select a lock
  s          sort by age (oldest first, the default), by row, by holder
  /          filter: type text, Enter applies it, Esc clears it
  Enter      the selected lock in detail: raw holder, registry facts, last audit records
  d          release the dead holders of the selected lock's row (force-release --dead):
             shows the plan, asks y/N, then carries it out with an audit record
  q, Esc, Ctrl-C   quit (Esc first leaves a detail, a plan or a result)

An age ending in `!` is older than --warn-age; `>=` marks a lower bound (a
holder that did not register: the row's last change). Dead holders are red.

Examples:
  locksmith locks watch
  locksmith locks watch platform --interval 2s --warn-age 30m
  locksmith locks watch --once";

/// `locksmith bench --help`.
pub const BENCH: &str = "\
Examples:
  locksmith bench
  locksmith bench --workers 16 --duration 10s --held 100
  locksmith bench --format json";

/// `locksmith completions --help`.
pub const COMPLETIONS: &str = "\
Examples:
  locksmith completions bash > ~/.local/share/bash-completion/completions/locksmith
  locksmith completions zsh > ~/.zfunc/_locksmith
  locksmith completions fish > ~/.config/fish/completions/locksmith.fish";

/// `locksmith man --help`.
pub const MAN: &str = "\
Examples:
  locksmith man | man -l -
  locksmith man > ~/.local/share/man/man1/locksmith.1";

/// `locksmith serve --help`.
pub const SERVE: &str = "\
Examples:
  locksmith serve                  # http://127.0.0.1:9464/metrics, / and /healthz
  locksmith serve --listen 127.0.0.1:9464 --interval 5s --scrape-timeout 3s
  locksmith serve --holder-labels  # each lock's holder as a label too";

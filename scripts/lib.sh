# shellcheck shell=bash
# Shared by scripts/test, scripts/demo and scripts/bench. Source it; it
# defines functions only. Servers are started the one way the project
# starts them, by scripts/throwaway-mariadb.

LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Installs what N nodes need (mariadb-server, mariadb-client; galera-4 and
# rsync for a cluster) unless it is there, without starting or enabling
# Debian's own MariaDB service.
ensure_mariadb() {
    "$LIB_DIR/throwaway-mariadb" --install-only --nodes "${1:-1}"
}

# Installs tmux unless it is there: the terminal the `locks watch` tests
# run in. With apt-get, as scripts/throwaway/install.sh installs MariaDB
# (sudo when not root, no recommends, serialised on a lock of this file);
# tmux is no service, so nothing is started or enabled.
ensure_tmux() {
    command -v tmux >/dev/null && return 0
    local sudo=() rc=0
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { echo "locksmith: need root or sudo to install tmux" >&2; return 1; }
        sudo=(sudo)
    fi
    exec 6<"$LIB_DIR/lib.sh"
    flock 6
    if ! command -v tmux >/dev/null; then
        echo "locksmith: installing tmux (apt-get) ..." >&2
        "${sudo[@]}" apt-get update -q 6<&- || rc=$?
        if [ "$rc" = 0 ]; then
            "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                -o DPkg::Lock::Timeout=600 --no-install-recommends tmux 6<&- || rc=$?
        fi
    fi
    exec 6<&-
    [ "$rc" = 0 ] || { echo "locksmith: apt-get failed (exit $rc) installing tmux" >&2; return 1; }
}

# Installs what the exporter's tests use (prometheus with promtool,
# chromium) unless it is there, without starting or enabling Debian's own
# prometheus service (scripts/install-tools).
ensure_tools() {
    "$LIB_DIR/install-tools"
}

# Starts a throwaway server for this shell and sets MDB_PORT and MDB_SOCK.
# The server holds its stdin from us: it stops, and its files go, when
# stop_mariadb runs or this shell exits, however it exits.
start_mariadb() {
    # An empty dir of our own; the script opens it to its server's user and
    # removes it at the end.
    MDB_BASE=$(mktemp -d -t locksmith-mariadb.XXXXXX)
    coproc MDB { exec "$LIB_DIR/throwaway-mariadb" "$MDB_BASE"; }
    local line
    while IFS= read -r line <&"${MDB[0]}"; do
        # shellcheck disable=SC2034 # MDB_PORT is for the caller
        case $line in
            "node 1 "*) read -r _ _ _ MDB_PORT _ MDB_SOCK _ <<<"$line" ;;
            ready) return 0 ;;
        esac
    done
    echo "locksmith: the throwaway server did not start" >&2
    return 1
}

# Stops the server started by start_mariadb and removes its files.
stop_mariadb() {
    if [ -n "${MDB_PID:-}" ]; then
        local pid=$MDB_PID fd=${MDB[1]}
        exec {fd}>&-
        wait "$pid" 2>/dev/null || true
    fi
    [ -n "${MDB_BASE:-}" ] && rm -rf "$MDB_BASE"
    MDB_BASE=""
}

# Runs SQL as root over the server's socket.
mdb_sql() {
    mariadb --no-defaults -uroot -S "$MDB_SOCK" -e "$1"
}

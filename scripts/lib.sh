# Shared by scripts/test, scripts/demo and scripts/bench: install MariaDB
# when it is missing, and run a throwaway server on a free loopback port with
# its data in a temp dir. Source it; it defines functions only.

# Installs Debian's mariadb-server (and client) unless mariadbd is there.
ensure_mariadb() {
    if command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; then
        if command -v mariadb >/dev/null 2>&1; then
            return 0
        fi
    fi
    echo "locksmith: installing mariadb-server (Debian package) ..." >&2
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null 2>&1 || {
            echo "locksmith: need root (or sudo) to install mariadb-server" >&2
            return 1
        }
        sudo="sudo"
    fi
    $sudo apt-get update -qq >&2
    # No service start inside the install: we run our own server.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        mariadb-server mariadb-client >&2
}

# A port nobody listens on.
free_port() {
    local p
    for p in $(shuf -i 20000-60000 -n 100); do
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# Starts a throwaway mariadbd. Sets MDB_DIR, MDB_PORT, MDB_SOCK and stops
# the server (and removes its data) when the calling shell exits.
start_mariadb() {
    local mariadbd
    mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
    MDB_DIR=$(mktemp -d -t locksmith-mariadb.XXXXXX)
    MDB_SOCK="$MDB_DIR/mysqld.sock"
    MDB_PORT=$(free_port)
    local user
    user=$(id -un)
    mariadb-install-db --no-defaults --datadir="$MDB_DIR/data" --user="$user" \
        --auth-root-authentication-method=normal --skip-test-db >"$MDB_DIR/install.log" 2>&1 || {
        cat "$MDB_DIR/install.log" >&2
        return 1
    }
    "$mariadbd" --no-defaults --datadir="$MDB_DIR/data" --socket="$MDB_SOCK" \
        --port="$MDB_PORT" --bind-address=127.0.0.1 --skip-name-resolve \
        --pid-file="$MDB_DIR/mysqld.pid" --log-error="$MDB_DIR/error.log" \
        --innodb-buffer-pool-size=128M --max-connections=500 --user="$user" \
        >>"$MDB_DIR/mariadbd.out" 2>&1 &
    MDB_PID=$!
    trap stop_mariadb EXIT
    local i
    for i in $(seq 1 600); do
        if [ -S "$MDB_SOCK" ] && mariadb --no-defaults -uroot -S "$MDB_SOCK" -e 'SELECT 1' >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "locksmith: mariadbd did not start; see $MDB_DIR/error.log" >&2
    cat "$MDB_DIR/error.log" >&2
    return 1
}

stop_mariadb() {
    if [ -n "${MDB_PID:-}" ]; then
        kill "$MDB_PID" 2>/dev/null
        wait "$MDB_PID" 2>/dev/null
        MDB_PID=""
    fi
    [ -n "${MDB_DIR:-}" ] && rm -rf "$MDB_DIR"
}

# Runs SQL as root over the socket.
mdb_sql() {
    mariadb --no-defaults -uroot -S "$MDB_SOCK" -e "$1"
}

# shellcheck shell=bash disable=SC2034  # the globals of scripts/throwaway-mariadb
# Node data dirs: an initialised data dir is cached per mariadbd build and
# copied (mariadb-install-db costs ~0.6 s), a Galera joiner starts empty,
# and each node gets its own my.cnf (given through --defaults-file, which
# the SST scripts read too). Sourced by scripts/throwaway-mariadb.

# Server settings that keep start-up fast and memory small; many test servers
# run at once. The same values key the cached template data dir.
INNODB_BUFFER_POOL=64M
INNODB_LOG_FILE=16M

# Galera provider options for tests. Failure detection: with the defaults
# (keepalive 1 s, suspect 5 s, inactive 15 s, install 7.5 s, peer timeout
# 3 s) the survivors of a `kill 2` reported cluster size 2 after 6.5 s; with
# these after 3.0 s (2.9 s for a SIGSTOPped node). On loopback a healthy peer
# answers within milliseconds: a keepalive every 0.5 s and suspicion after 2 s
# of silence leave a margin of 4 keepalives, and the hard limits (inactive,
# install) stay at twice the suspect timeout. Checked on 2 cores: 60 s of 4 CPU hogs plus
# 200-row inserts round-robin on all nodes caused no view change. (Joining
# is not faster either way: it is dominated by the SST script and the gcomm
# handshake, ~1-2 s each.) gcache.size is 32M instead of 128M: each
# node preallocates the whole file, and test write sets are small (a joiner
# that falls out of the gcache gets a full SST instead of IST, which works).
# pc.recovery=FALSE: bootstrapping is this script's decision alone (`start I`
# bootstraps only when no other node runs). With recovery on, a killed node
# that was the last member of the primary component re-forms a primary of
# its own on restart (gvwstate.dat) instead of joining the running cluster.
GALERA_TUNING="evs.keepalive_period=PT0.5S;evs.inactive_check_period=PT0.5S"
GALERA_TUNING+=";evs.suspect_timeout=PT2S;evs.inactive_timeout=PT4S"
GALERA_TUNING+=";evs.install_timeout=PT4S;evs.join_retrans_period=PT0.5S"
GALERA_TUNING+=";gmcast.peer_timeout=PT2S;gcache.size=32M;pc.recovery=FALSE"

# --force only skips mariadb-install-db's check that the host name resolves,
# which fails in containers and chroots without /etc/hosts; the server runs
# with skip-name-resolve and never looks names up.
INSTALL_DB_ARGS=(--no-defaults --auth-root-authentication-method=normal --skip-test-db --force
    --innodb-buffer-pool-size="$INNODB_BUFFER_POOL" --innodb-log-file-size="$INNODB_LOG_FILE")

run_install_db() {
    local datadir=$1 out
    if ! out=$(mariadb-install-db "${INSTALL_DB_ARGS[@]}" --user="$(id -un)" --datadir="$datadir" 2>&1); then
        printf '%s\n' "$out" >&2
        log "mariadb-install-db failed"
        return 1
    fi
}

# mariadb-install-db takes ~0.6 s, copying its result ~0.02-0.1 s and a
# server then starts in ~0.12 s: measured end to end, a single node is ready
# ~0.3 s after the script starts with the cache and ~0.85 s without. So an
# initialised data dir is cached per mariadbd build and settings, and copied. Prints the template's path; returns 1 when
# there is no usable cache dir (then the caller runs mariadb-install-db
# itself), 2 when mariadb-install-db failed.
template_datadir() {
    local base=${XDG_CACHE_HOME:-${HOME:+$HOME/.cache}}
    [ -n "$base" ] || return 1
    local key
    # The binary's identity (cheaper than running it for --version) and the
    # initialisation settings.
    key=$({
        stat -L -c '%n %s %Y %i' "$MARIADBD"
        printf '%s\n' "${INSTALL_DB_ARGS[@]}" "$(id -un)"
    } | sha256sum | cut -c1-16)
    local cache=$base/locksmith t
    t=$cache/mariadb-datadir-$key
    if [ ! -d "$t" ]; then
        mkdir -p "$cache" 2>/dev/null || return 1
        local tmp
        tmp=$(mktemp -d "$cache/.mariadb-datadir.XXXXXX") || return 1
        log "initialising a template data dir (once per mariadbd build): $t"
        # The redo log and system tablespace are mostly zeros (preallocated):
        # a sparse template makes every copy write ~6 MB instead of ~34 MB.
        if ! run_install_db "$tmp/init"; then
            rm -rf "$tmp"
            return 2
        fi
        if ! cp -a --sparse=always "$tmp/init" "$tmp/data"; then
            rm -rf "$tmp"
            return 1
        fi
        # Atomic publish: a concurrent run either sees no template or a whole
        # one. Losing the race just drops our copy.
        mv -T "$tmp/data" "$t" 2>/dev/null || true
        rm -rf "$tmp"
    fi
    echo "$t"
}

# Fresh node dir: data/ initialised (from the template) when $2 = init,
# empty (for a Galera joiner's SST) when $2 = empty. (Like every function
# called from a condition, it checks each step itself: set -e does not apply
# there.)
prepare_node_dir() {
    local i=$1 how=$2 d t rc=0
    d=$(node_dir "$i")
    rm -rf "$d" && mkdir -p "$d" || return 1
    if [ "$how" = init ]; then
        t=$(template_datadir) || rc=$?
        case $rc in
            0) cp -a "$t" "$d/data" || return 1 ;;
            1) run_install_db "$d/data" || return 1 ;;
            *) return 1 ;;
        esac
    else
        mkdir "$d/data" || return 1
    fi
    : >"$d/error.log" || return 1
    if [ -n "$RUN_AS" ]; then chown -R "$RUN_AS:" "$d" || return 1; fi
}

write_cnf() {
    local i=$1 d j addrs=()
    d=$(node_dir "$i")
    {
        echo "# written by $PROG"
        echo "[mysqld]"
        echo "datadir=$d/data"
        echo "socket=$d/mysqld.sock"
        echo "pid-file=$d/mysqld.pid"
        echo "log-error=$d/error.log"
        echo "port=${PORT[$i]}"
        echo "bind-address=127.0.0.1"
        echo "skip-name-resolve"
        echo "max_connections=500"
        echo "innodb_buffer_pool_size=$INNODB_BUFFER_POOL"
        echo "innodb_log_file_size=$INNODB_LOG_FILE"
        if [ -n "$RUN_AS" ]; then echo "user=$RUN_AS"; fi
        if [ "$NODES" -gt 1 ]; then
            for ((j = 1; j <= NODES; j++)); do addrs+=("127.0.0.1:${GCOMM[$j]}"); done
            local IFS=,
            echo "binlog_format=ROW"
            echo "default_storage_engine=InnoDB"
            echo "innodb_autoinc_lock_mode=2"
            echo "wsrep_on=ON"
            echo "wsrep_provider=$GALERA_LIB"
            echo "wsrep_cluster_name=throwaway-$$"
            echo "wsrep_node_name=n$i"
            echo "wsrep_node_address=127.0.0.1:${GCOMM[$i]}"
            echo "wsrep_cluster_address=gcomm://${addrs[*]}"
            echo "wsrep_provider_options=\"gmcast.listen_addr=tcp://127.0.0.1:${GCOMM[$i]};ist.recv_addr=127.0.0.1:${IST[$i]};$GALERA_TUNING\""
            echo "wsrep_sst_receive_address=127.0.0.1:${SSTP[$i]}"
            echo "wsrep_sst_method=rsync"
            echo "wsrep_sst_auth=root:"
            # SST scripts log to syslog unless told otherwise; -1 sends their
            # errors to stderr, i.e. to this node's error log.
            echo "[sst]"
            echo "sst-syslog=-1"
        fi
    } >"$d/my.cnf" || return 1
    chmod 644 "$d/my.cnf"
}

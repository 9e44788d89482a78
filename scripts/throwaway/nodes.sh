# shellcheck shell=bash disable=SC2034  # the globals of scripts/throwaway-mariadb
# Starting nodes: launch in a session of its own, wait until ready (SELECT 1,
# or Synced in a cluster of the expected size), retry a first start on new
# ports after a port clash, restart a killed node (recovering its Galera
# position so it rejoins by IST), and the protocol line of a node. Sourced
# by scripts/throwaway-mariadb.

# Seconds a node may take to become ready. A joiner's full SST took ~2.5 s on
# a 2-core VM; the margin is for loaded CI machines.
SINGLE_TIMEOUT=60
GALERA_TIMEOUT=180

sql() {
    mariadb --no-defaults -uroot -S "$(node_sock "$1")" --connect-timeout=2 -N -B -e "$2"
}

# Starts node i's mariadbd in its own session (a terminal's Ctrl-C must reach
# only this script, which then stops the servers in order).
launch() {
    local i=$1 log
    shift
    log=$(node_log "$i")
    LOGPOS[i]=$(stat -c %s "$log" 2>/dev/null || echo 0)
    setsid "$MARIADBD" --defaults-file="$(node_dir "$i")/my.cnf" "$@" "${EXTRA[@]}" \
        </dev/null >>"$log" 2>&1 3>&- 4<&- &
    PID[i]=$!
    STOPPED[i]=0
    READY[i]=0
}

# Waits until node i is ready: answers SELECT 1 (single) or is Synced in a
# cluster of at least $2 members (Galera). Returns 1 if mariadbd died, 2 on
# timeout.
wait_ready() {
    local i=$1 want=$2 timeout=$3 out state size name value
    local deadline=$((SECONDS + timeout))
    while :; do
        node_alive "$i" || return 1
        if [ "$NODES" = 1 ]; then
            if sql "$i" 'SELECT 1' >/dev/null 2>&1; then return 0; fi
        elif out=$(sql "$i" "SHOW GLOBAL STATUS WHERE Variable_name IN
                ('wsrep_local_state_comment', 'wsrep_cluster_size')" 2>/dev/null); then
            state="" size=0
            while read -r name value; do
                case $name in
                    wsrep_local_state_comment) state=$value ;;
                    wsrep_cluster_size) size=$value ;;
                esac
            done <<<"$out"
            if [ "$state" = Synced ] && [ "$size" -ge "$want" ]; then return 0; fi
        fi
        [ "$SECONDS" -lt "$deadline" ] || return 2
        # A single server is up ~0.12 s after launch: poll it closely.
        if [ "$NODES" = 1 ]; then sleep 0.02; else sleep 0.1; fi
    done
}

# The part of node i's error log written since its last launch.
new_log() { tail -c +"$((${LOGPOS[$1]:-0} + 1))" "$(node_log "$1")" 2>/dev/null || true; }

# True when a failed start of node i (already killed) may succeed on other
# ports: the error log says a bind failed, or another process now listens on
# one of its ports. The second catches what the log cannot show: the joiner's
# rsync daemon logs its bind error to syslog, and when someone else listens
# on the SST port the donor's transfer just fails.
port_clash() {
    local i=$1 p
    if new_log "$i" | grep -qE 'Address already in use|[Ee]rr(no|or|code):? ?98([^0-9]|$)|has been taken|rsync or stunnel daemon .* terminated unexpectedly'; then
        return 0
    fi
    scan_ports listen
    for p in "${PORT[$i]}" "${GCOMM[$i]:-}" "${IST[$i]:-}" "${SSTP[$i]:-}"; do
        if [ -n "$p" ] && [ -n "${PORT_BUSY[$p]:-}" ]; then return 0; fi
    done
    return 1
}

# On stderr: the errors of node i's last start, then the log's last lines
# (a crash ends with a long stack trace that would hide the cause).
show_log_tail() {
    log "---- node $1: errors in $(node_log "$1") ----"
    new_log "$1" | grep -E '\[ERROR\]|WSREP_SST: \[ERROR\]' | tail -n 20 >&2
    log "---- node $1: last lines ----"
    new_log "$1" | tail -n 30 >&2
    log "----"
}

# After a launch: wait, and on failure kill what is left. Returns like
# wait_ready.
launch_and_wait() {
    local i=$1 want=$2 timeout=$3 rc=0 t0=$SECONDS
    shift 3
    launch "$i" "$@"
    wait_ready "$i" "$want" "$timeout" || rc=$?
    if [ "$rc" = 0 ]; then
        # The pid file is authoritative, should setsid ever have forked.
        local p
        p=$(cat "$(node_dir "$i")/mysqld.pid" 2>/dev/null || true)
        if [ -n "$p" ] && [ "$p" != "${PID[$i]}" ] && alive "$p"; then PID[i]=$p; fi
        READY[i]=1
        log "node $i ready after $((SECONDS - t0))s"
        return 0
    fi
    [ "$rc" = 1 ] && log "node $i: mariadbd exited during start-up"
    [ "$rc" = 2 ] && log "node $i: not ready after ${timeout}s"
    kill_node "$i"
    return "$rc"
}

# First start of node i, on new ports while they turn out to be taken
# (another process may bind a port between our check and mariadbd's bind).
first_start() {
    local i=$1 attempt how args=()
    if [ "$i" = 1 ]; then how=init; else how=empty; fi
    if [ "$NODES" -gt 1 ] && [ "$i" = 1 ]; then args=(--wsrep-new-cluster); fi
    for attempt in 1 2 3 4 5; do
        if [ "$attempt" -gt 1 ]; then assign_ports "$i" || return 1; fi
        prepare_node_dir "$i" "$how" || { log "node $i: cannot prepare $(node_dir "$i")"; return 1; }
        write_cnf "$i" || return 1
        if launch_and_wait "$i" "$i" "$(start_timeout)" "${args[@]}"; then return 0; fi
        if [ -z "$FIXED_PORT" ] && port_clash "$i" && [ "$attempt" -lt 5 ]; then
            log "node $i: a port was taken, retrying on new ports"
            continue
        fi
        show_log_tail "$i"
        return 1
    done
}

start_timeout() { if [ "$NODES" = 1 ]; then echo "$SINGLE_TIMEOUT"; else echo "$GALERA_TIMEOUT"; fi; }

# A Galera node that was killed has seqno -1 in grastate.dat and, started
# as is, would get a full SST (~2.5 s, and not what a real restart does).
# Like mysqld_safe, recover its last committed position from InnoDB
# (`mariadbd --wsrep-recover`, ~0.1 s) so it can rejoin by IST. Prints the
# position; false when there is nothing to recover.
recover_position() {
    local i=$1 d pos
    d=$(node_dir "$i")
    [ -f "$d/data/ibdata1" ] && grep -qE '^seqno: *-1' "$d/data/grastate.dat" 2>/dev/null || return 1
    rm -f "$d/recover.log"
    setsid "$MARIADBD" --defaults-file="$d/my.cnf" --wsrep-recover --log-error="$d/recover.log" "${EXTRA[@]}" \
        </dev/null >/dev/null 2>&1 3>&- 4<&- || true
    pos=$(sed -n 's/.*WSREP: Recovered position: *\([^ ]*:[0-9-]*\).*/\1/p' "$d/recover.log" 2>/dev/null | tail -n 1)
    rm -f "$d/recover.log"
    case $pos in *:-1 | "") return 1 ;; esac
    log "node $i: recovered position $pos"
    echo "$pos"
}

# Restart of node i on its data dir and ports. A Galera node joins the
# running members (IST, or SST if needed); when no other member runs it
# bootstraps a new cluster from its own data.
restart_node() {
    local i=$1 j others=0 args=()
    if [ "$NODES" -gt 1 ]; then
        for ((j = 1; j <= NODES; j++)); do
            if [ "$j" != "$i" ] && node_alive "$j" && [ "${STOPPED[$j]:-0}" = 0 ]; then
                others=$((others + 1))
            fi
        done
        if [ "$others" = 0 ]; then
            args=(--wsrep-new-cluster)
            # A killed node is not marked safe to bootstrap. With every node
            # down, `start I` means "bootstrap from node I": picking the node
            # with the newest data is the caller's job (a node with more
            # history that joins later aborts with "Reversing history").
            local gs
            gs="$(node_dir "$i")/data/grastate.dat"
            if [ -f "$gs" ]; then sed -i 's/^safe_to_bootstrap: *0/safe_to_bootstrap: 1/' "$gs"; fi
        fi
    fi
    write_cnf "$i" || return 1
    if [ "$NODES" -gt 1 ]; then
        local pos
        if pos=$(recover_position "$i"); then args+=(--wsrep-start-position="$pos"); fi
    fi
    if ! launch_and_wait "$i" "$((others + 1))" "$(start_timeout)" "${args[@]}"; then
        show_log_tail "$i"
        return 1
    fi
}

node_line() {
    local i=$1 pid=0
    if node_alive "$i"; then pid=${PID[$i]}; fi
    echo "node $i port ${PORT[$i]} socket $(node_sock "$i") pid $pid"
}

# shellcheck shell=bash disable=SC2034  # the globals of scripts/throwaway-mariadb
# Processes of throwaway-mariadb: liveness, the descendants of a node and
# the helpers working for its dir (SST scripts, rsync), killing a node and
# everything it started, and the graceful stop of several nodes. Sourced by
# scripts/throwaway-mariadb; uses its PID, READY, STOPPED arrays and node_dir.

# Seconds a graceful stop may take before SIGKILL. A Galera joiner waiting
# for its SST ignores SIGTERM, so this is also how long such a stop hangs.
GRACE=10

# True when pid exists and is not a zombie.
alive() {
    local pid=$1 stat
    [ -n "$pid" ] && [ "$pid" != 0 ] || return 1
    { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

node_alive() { alive "${PID[$1]:-0}"; }

# Prints every descendant of pid (children first), from one pass over /proc.
descendants() {
    local root=$1 f line p pp rest
    local -A kids=()
    for f in /proc/[0-9]*/stat; do
        { read -r line <"$f"; } 2>/dev/null || continue
        p=${line%% *}
        rest=${line##*) }
        rest=${rest#* }
        pp=${rest%% *}
        kids[$pp]+=" $p"
    done
    local queue=("$root") cur
    while [ ${#queue[@]} -gt 0 ]; do
        cur=${queue[0]}
        queue=("${queue[@]:1}")
        for p in ${kids[$cur]:-}; do
            echo "$p"
            queue+=("$p")
        done
    done
}

# Prints pids of processes working for the node dir prefix $1 (a mariadbd
# restarted by someone, SST scripts, the rsync daemon, ...): their command
# line names the dir. Other programs that merely mention it (a test's mariadb
# client with -S DIR/n1/mysqld.sock) are left alone.
dir_helpers() {
    local needle=$1 f p comm
    while read -r f; do
        p=${f#/proc/}
        p=${p%/cmdline}
        if [ "$p" = "$$" ] || [ "$p" = "$BASHPID" ]; then continue; fi
        { read -r comm <"/proc/$p/comm"; } 2>/dev/null || continue
        case $comm in
            mariadbd | mysqld | rsync | socat | mariadb-backup | mariabackup | stunnel* | pv | nc) echo "$p" ;;
            *) if grep -qaF wsrep_sst "/proc/$p/cmdline" 2>/dev/null; then echo "$p"; fi ;;
        esac
    done < <(grep -laF -- "$needle" /proc/[0-9]*/cmdline 2>/dev/null)
}

# Waits until none of the pids is alive; false after $1 seconds.
wait_gone() {
    local timeout=$1 p left
    shift
    local deadline=$((SECONDS + timeout))
    while :; do
        left=0
        for p in "$@"; do
            if alive "$p"; then left=1; break; fi
        done
        [ "$left" = 1 ] || return 0
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.05
    done
}

# SIGKILLs node i's mariadbd and everything working for it; waits until gone.
kill_node() {
    local i=$1 pid=${PID[$1]:-0} pids
    # Descendants first: once mariadbd is dead they are re-parented and only
    # their command lines still tie them to the node.
    mapfile -t pids < <(
        if alive "$pid"; then descendants "$pid"; fi
        dir_helpers "$(node_dir "$i")/"
    )
    if alive "$pid"; then pids+=("$pid"); fi
    if [ ${#pids[@]} -gt 0 ]; then
        kill -KILL "${pids[@]}" 2>/dev/null || true
        wait_gone 10 "${pids[@]}" || log "node $i: processes ${pids[*]} survived SIGKILL"
    fi
    reap "$pid"
    PID[i]=0
    STOPPED[i]=0
}

# Collects mariadbd's exit status (it is our child) so bash does not keep it.
reap() {
    if [ "${1:-0}" != 0 ] && ! alive "$1"; then wait "$1" 2>/dev/null || true; fi
}

# Graceful stop of several nodes at once: SIGTERM (and SIGCONT, in case they
# are stopped), then SIGKILL whatever is left after GRACE seconds, including
# SST helpers. A node whose start is being abandoned (we were interrupted
# before it was ready) gets SIGKILL at once: it has no state worth a clean
# shutdown, and a joiner waiting for its SST would ignore SIGTERM anyway.
term_nodes() {
    local i pids=()
    for i in "$@"; do
        if node_alive "$i" && [ "${READY[$i]:-0}" = 1 ]; then
            kill -TERM "${PID[$i]}" 2>/dev/null || true
            kill -CONT "${PID[$i]}" 2>/dev/null || true
            pids+=("${PID[$i]}")
        fi
    done
    if [ ${#pids[@]} -gt 0 ] && ! wait_gone "$GRACE" "${pids[@]}"; then
        log "node(s) $* still running ${GRACE}s after SIGTERM: SIGKILL"
    fi
    for i in "$@"; do kill_node "$i"; done
}

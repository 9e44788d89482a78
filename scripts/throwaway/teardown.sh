# shellcheck shell=bash disable=SC2034  # the globals of scripts/throwaway-mariadb
# Teardown: on EOF of the command channel, a signal or any exit, every node
# is continued and stopped (joiners first, node 1 last) and DIR removed.
# Sourced by scripts/throwaway-mariadb, which installs the traps.

CLEANING=0
# cleanup, on_signal and on_exit run from traps.
# shellcheck disable=SC2317
cleanup() {
    [ "$CLEANING" = 0 ] || return 0
    CLEANING=1
    # Best effort to the end, even if the terminal sends more signals or the
    # reader of stderr is gone.
    set +e
    trap '' INT TERM HUP PIPE
    remove_policy_rc_d
    local i
    for ((i = 1; i <= NODES; i++)); do
        if node_alive "$i"; then kill -CONT "${PID[$i]}" 2>/dev/null || true; fi
    done
    # Joiners first, together; node 1 last, so the node that bootstrapped the
    # cluster leaves it cleanly (and is the one safe to bootstrap from).
    local joiners=()
    for ((i = NODES; i >= 2; i--)); do joiners+=("$i"); done
    if [ ${#joiners[@]} -gt 0 ]; then term_nodes "${joiners[@]}"; fi
    term_nodes 1
    if [ "$CLEAN_DIR" = 1 ]; then
        # Stray helpers of any node (e.g. a donor's rsync client).
        local stray
        mapfile -t stray < <(dir_helpers "$DIR/")
        if [ ${#stray[@]} -gt 0 ]; then
            kill -KILL "${stray[@]}" 2>/dev/null || true
            wait_gone 10 "${stray[@]}" || true
        fi
        rm -rf "$DIR"
    fi
}

# shellcheck disable=SC2317
on_signal() {
    trap '' PIPE
    log "got SIG$1: stopping"
    cleanup
    exit 0
}

# shellcheck disable=SC2317
on_exit() {
    local rc=$?
    cleanup
    exit "$rc"
}

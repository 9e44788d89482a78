# shellcheck shell=bash disable=SC2034  # the globals of scripts/throwaway-mariadb
# Free loopback ports for the nodes: below the kernel's ephemeral range,
# not in use in any state, and not used by another node. Sourced by
# scripts/throwaway-mariadb; sets its PORT, GCOMM, IST and SSTP arrays.

# Ports come from below the kernel's ephemeral range (32768-60999 by default):
# a port picked there can be taken by any outgoing connection before the
# server binds it.
PORT_MIN=10000
PORT_MAX=32767

# Sets PORT_BUSY to the local TCP ports in use: in any state (listening,
# connected, TIME_WAIT), or with $1 = listen only those listened on.
declare -A PORT_BUSY=()
scan_ports() {
    local hex state=${1:-any}
    PORT_BUSY=()
    # awk, not `read`: bash reads /proc/net/tcp in tiny chunks and the kernel
    # regenerates the table for each (2-3 ms a line).
    while read -r hex; do
        PORT_BUSY[$((16#$hex))]=1
    done < <(awk -v state="$state" 'FNR > 1 && (state == "any" || $4 == "0A") {
        n = split($2, a, ":"); print a[n] }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)
}

# Sets the array named $1 to $2 distinct free ports that no node uses.
pick_ports() {
    local -n out=$1
    local count=$2 hi=$PORT_MAX lo_eph p tries=0
    out=()
    read -r lo_eph _ </proc/sys/net/ipv4/ip_local_port_range || lo_eph=32768
    [ "$lo_eph" -gt "$hi" ] || hi=$((lo_eph - 1))
    scan_ports any
    for p in "${PORT[@]}" "${GCOMM[@]}" "${IST[@]}" "${SSTP[@]}"; do PORT_BUSY[$p]=1; done
    while [ ${#out[@]} -lt "$count" ]; do
        tries=$((tries + 1))
        [ "$tries" -lt 10000 ] || { log "no free port in $PORT_MIN-$hi"; return 1; }
        p=$((PORT_MIN + (RANDOM * 32768 + RANDOM) % (hi - PORT_MIN + 1)))
        [ -z "${PORT_BUSY[$p]:-}" ] || continue
        PORT_BUSY[$p]=1
        out+=("$p")
    done
}

assign_ports() {
    local i=$1 ports=()
    if [ "$NODES" = 1 ] && [ -n "$FIXED_PORT" ]; then
        PORT[i]=$FIXED_PORT
    elif [ "$NODES" = 1 ]; then
        pick_ports ports 1 || return 1
        PORT[i]=${ports[0]}
    else
        pick_ports ports 4 || return 1
        PORT[i]=${ports[0]} GCOMM[i]=${ports[1]} IST[i]=${ports[2]} SSTP[i]=${ports[3]}
    fi
}

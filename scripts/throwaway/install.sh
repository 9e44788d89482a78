# shellcheck shell=bash disable=SC2034  # the globals of scripts/throwaway-mariadb
# Installing what throwaway-mariadb needs (mariadb-server, mariadb-client;
# galera-4, rsync and iproute2 for a cluster) with apt-get, without starting
# or enabling Debian's own MariaDB service (a temporary policy-rc.d, then
# the service disabled). Sourced by scripts/throwaway-mariadb; uses NODES,
# GALERA_LIB, SUDO and POLICY_CREATED.

# Prints the Debian packages this run needs that are missing.
missing_packages() {
    local pkgs=()
    if ! command -v mariadbd >/dev/null || ! command -v mariadb-install-db >/dev/null ||
        ! command -v my_print_defaults >/dev/null; then
        pkgs+=(mariadb-server)
    fi
    command -v mariadb >/dev/null || pkgs+=(mariadb-client)
    if [ "$NODES" -gt 1 ]; then
        [ -f "$GALERA_LIB" ] || pkgs+=(galera-4)
        command -v rsync >/dev/null || pkgs+=(rsync)
        # The SST script (mariadb-server) and the port checker it needs.
        command -v wsrep_sst_rsync >/dev/null || pkgs+=(mariadb-server)
        command -v ss >/dev/null || command -v lsof >/dev/null || pkgs+=(iproute2)
    fi
    if [ ${#pkgs[@]} -gt 0 ]; then printf '%s\n' "${pkgs[@]}" | sort -u; fi
}

# Pid of Debian's system MariaDB service when it runs.
system_service_pid() {
    local pid
    pid=$(cat /run/mysqld/mysqld.pid 2>/dev/null) || return 1
    alive "$pid" && echo "$pid"
}

# The system MariaDB service must not run (it would take port 3306 and
# memory) nor be enabled. policy-rc.d stops the postinst from starting it;
# this catches a start anyway (an existing policy-rc.d that allows it). Only
# called when the service did not run before our install.
stop_system_service() {
    local pid
    pid=$(system_service_pid) || return 0
    log "stopping the system MariaDB service that the package install started"
    if [ -d /run/systemd/system ]; then
        "${SUDO[@]}" systemctl stop mariadb.service || true
    elif [ -x /etc/init.d/mariadb ]; then
        "${SUDO[@]}" /etc/init.d/mariadb stop || true
    fi
    if alive "$pid"; then "${SUDO[@]}" kill "$pid" || true; fi
}

# The package enables mariadb.service and socket activation (mariadb.socket)
# for systemd, and init.d links for sysvinit.
disable_system_service() {
    if command -v systemctl >/dev/null; then
        "${SUDO[@]}" systemctl disable --quiet mariadb.service mariadb.socket >/dev/null 2>&1 || true
    else
        # No systemd here (container, chroot): its enablement links only.
        "${SUDO[@]}" rm -f /etc/systemd/system/*.target.wants/mariadb.service \
            /etc/systemd/system/*.target.wants/mariadb.socket || true
    fi
    if command -v update-rc.d >/dev/null && [ -e /etc/init.d/mariadb ]; then
        "${SUDO[@]}" update-rc.d mariadb disable >/dev/null 2>&1 || true
    fi
}

remove_policy_rc_d() {
    if [ "$POLICY_CREATED" = 1 ]; then
        "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d || true
        POLICY_CREATED=0
    fi
}

install_missing() {
    local pkgs
    mapfile -t pkgs < <(missing_packages)
    [ ${#pkgs[@]} -gt 0 ] || return 0
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { log "need root or sudo to install: ${pkgs[*]}"; return 1; }
        SUDO=(sudo)
    fi
    # Concurrent starts on a fresh machine would race on apt and on
    # policy-rc.d: serialise them on a lock of this script file (readable by
    # everyone, and it leaves no lock file behind).
    exec 5<"$0"
    flock 5
    mapfile -t pkgs < <(missing_packages)
    if [ ${#pkgs[@]} -gt 0 ]; then
        log "installing ${pkgs[*]} (apt-get) ..."
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            POLICY_CREATED=1
            printf '#!/bin/sh\n# temporary, by %s: start no services\nexit 101\n' "$PROG" |
                "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
            "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
        fi
        local rc=0 service_ran=0
        if system_service_pid >/dev/null; then service_ran=1; fi
        # Whatever apt starts must not hold our lock or protocol pipes.
        "${SUDO[@]}" apt-get update -q 3>&- 4<&- 5<&- || rc=$?
        if [ "$rc" = 0 ]; then
            "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                -o DPkg::Lock::Timeout=600 --no-install-recommends "${pkgs[@]}" 3>&- 4<&- 5<&- || rc=$?
        fi
        remove_policy_rc_d
        if [ "$service_ran" = 0 ]; then stop_system_service; fi
        case " ${pkgs[*]} " in *" mariadb-server "*) disable_system_service ;; esac
        [ "$rc" = 0 ] || { log "apt-get failed (exit $rc)"; exec 5<&-; return 1; }
        mapfile -t pkgs < <(missing_packages)
        [ ${#pkgs[@]} -eq 0 ] || { log "still missing after install: ${pkgs[*]}"; exec 5<&-; return 1; }
    fi
    exec 5<&-
}

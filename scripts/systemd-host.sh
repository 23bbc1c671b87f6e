#!/usr/bin/env bash
# Boots a stock Debian 12 (bookworm) under systemd-nspawn and checks vrrp-ha on a
# real systemd (driven by tests/systemd_host.rs). Two sets of checks:
#
# run: the units, with the binary and units/ copied in by hand:
#   systemctl enable --now vrrp-ha@VI_1 -> active at once (Type=notify, READY=1),
#   VIP on eth0 and answering ARP, `journalctl -u vrrp-ha@VI_1 VRRP_STATE=MASTER`
#   with the VRRP_* fields, STATUS=, `vrrp-ha status`, WATCHDOG=1 keep-alives,
#   reload (valid: same PID, VIP kept; invalid: `systemctl reload` fails with the
#   diagnostic in `systemctl status`, old config kept), a stuck daemon restarted
#   by the watchdog, stop removes the VIP, an invalid file refused by ExecStartPre
#   with the diagnostic in the journal, vrrp-ha.service, vrrp-ha-witness.service
#   (a dynamic user with CAP_NET_RAW alone, its key a credential) answering a BACKUP
#   in the peer namespace, and the enabled unit started again after a reboot.
# package: the Debian package, from `apt-get install ./vrrp-ha_*.deb` on:
#   the files where Debian wants them (man pages indexed for `man -k`, completions,
#   the example conffile), the D-Bus policy live on the system bus, `vrrp-ha check`,
#   `systemctl enable --now` of three instances (one BACKUP to a MASTER in the peer
#   namespace), a refused reload, an upgrade to a second package (running units
#   restarted, BACKUPs first, one whose file the new version refuses left running,
#   a changed conffile kept), `apt-get remove` (units stopped, /etc/vrrp-ha kept)
#   and `apt-get purge` (/etc/vrrp-ha and enablement links gone). Before booting:
#   lintian (no errors) and the binary's highest GLIBC symbol version (<= 2.36).
#
# Usage: scripts/systemd-host.sh rootfs              build (or reuse) the cached rootfs
#        scripts/systemd-host.sh run BINARY UNITDIR  build/reuse it, then check the units
#        scripts/systemd-host.sh package DEB DEB2    ... then check the package DEB and
#                                                    an upgrade to DEB2 (a later version)
#
# The rootfs (debootstrap --variant=minbase plus systemd, dbus, iproute2, man-db:
# ~230 MB, ~60 s to build) is cached under $VRRP_HA_ROOTFS_CACHE (default
# /var/cache/vrrp-ha-tests), keyed by a hash of the recipe, and never written to
# once built: every run boots a throw-away overlay of it. The mirror is the one
# apt uses here ($VRRP_HA_DEBIAN_MIRROR overrides it); the container itself has
# no network beyond its veth, so the package must install from what it holds.
# The container's network is a namespace this script creates (vhsd<pid>c) with a
# veth whose other end is in a second one (vhsd<pid>h; the package checks run a
# vrrp-ha there as the MASTER of a second VRID); only 192.0.2.0/24 is used and
# the machine's own interfaces are never touched. Machine, namespaces, processes
# and overlay are removed on exit, also on failure. VRRP_HA_KEEP=1 keeps the
# overlay (with the container's journal) in /tmp; VRRP_HA_HOLD=SECONDS keeps the
# container running that long before the clean-up, to look around with nsenter.
# Needs root, debootstrap and systemd-nspawn (package systemd-container), for
# `package` also lintian and objdump (binutils); the host itself need not run
# systemd.
set -euo pipefail
export LC_ALL=C
export PATH=$PATH:/usr/sbin:/sbin

SUITE=bookworm
# The recipe of the cached rootfs: changing any of it changes the cache key.
# minbase is the smallest Debian that boots systemd (no procps, so no /bin/kill):
# what the units and the package need beyond it, they must not assume. man-db is
# there because `man` is part of what the package test checks (minbase has none).
PACKAGES=systemd,systemd-sysv,dbus,iproute2,man-db
VARIANT=minbase
RECIPE_VERSION=1

log() { printf '[systemd-host %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
    log "FAIL: $*"
    exit 1
}

# The Debian mirror this machine's apt already uses, so a lab without general
# internet access but with a reachable mirror still works.
mirror() {
    local uri
    uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -oE 'https?://[^ ]+/debian/?( |$)' | grep -v security | head -n1 | tr -d ' ') || true
    echo "${VRRP_HA_DEBIAN_MIRROR:-${uri:-http://deb.debian.org/debian}}"
}

CACHE_DIR=${VRRP_HA_ROOTFS_CACHE:-/var/cache/vrrp-ha-tests}

# Prints the path of the cached rootfs, building it first when missing.
rootfs() {
    local mirror key dir tmp t0
    mirror=$(mirror)
    key=$(printf '%s\n' "$SUITE" "$VARIANT" "$PACKAGES" "$RECIPE_VERSION" "$(dpkg --print-architecture)" |
        sha256sum | cut -c1-12)
    dir=$CACHE_DIR/$SUITE-$key
    mkdir -p "$CACHE_DIR"
    # Concurrent runs wait for one build instead of racing two debootstraps.
    exec 9>"$CACHE_DIR/.lock"
    flock 9
    if [ -e "$dir/.complete" ]; then
        log "reusing cached rootfs $dir"
    else
        command -v debootstrap >/dev/null || die "debootstrap is not installed"
        tmp=$dir.tmp.$$
        # Under the lock any earlier temporary tree is a killed build's; a killed
        # debootstrap may have left proc or sys mounted in it.
        for t in "$dir".tmp.*; do
            [ -e "$t" ] || continue
            findmnt -rno TARGET | awk -v p="$t/" 'index($0, p) == 1' | sort -r |
                while read -r m; do umount -l "$m"; done
            rm -rf --one-file-system "$t"
        done
        rm -rf --one-file-system "$dir"
        log "building rootfs $dir with debootstrap ($SUITE, $VARIANT, $PACKAGES) from $mirror; this takes minutes once"
        t0=$SECONDS
        # Progress goes to stderr line by line (debootstrap prints I: lines).
        if ! debootstrap --variant="$VARIANT" --include="$PACKAGES" "$SUITE" "$tmp" "$mirror" >&2; then
            rm -rf --one-file-system "$tmp"
            die "debootstrap failed"
        fi
        rootfs_customize "$tmp"
        touch "$tmp/.complete"
        mv "$tmp" "$dir"
        log "rootfs built in $((SECONDS - t0)) s"
    fi
    flock -u 9
    exec 9>&-
    echo "$dir"
}

# What every container booted from the cache shares; test-specific files go
# into the per-run overlay instead.
rootfs_customize() {
    local r=$1
    rm -f "$r"/var/cache/apt/archives/*.deb
    echo vrrp-ha-test >"$r/etc/hostname"
    # Empty: every boot gets a fresh transient machine ID (no shared journal dirs).
    : >"$r/etc/machine-id"
}

case "${1:-}" in
    rootfs)
        rootfs
        exit 0
        ;;
    run)
        [ $# -eq 3 ] || die "usage: $0 run BINARY UNITDIR"
        MODE=units
        BINARY=$(realpath "$2")
        UNITDIR=$(realpath "$3")
        ;;
    package)
        [ $# -eq 3 ] || die "usage: $0 package DEB DEB2"
        MODE=package
        DEB=$(realpath "$2")
        DEB2=$(realpath "$3")
        ;;
    *)
        sed -n '2,45p' "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac

[ "$(id -u)" -eq 0 ] || die "must run as root"
command -v systemd-nspawn >/dev/null || die "systemd-nspawn is not installed (package systemd-container)"
if [ "$MODE" = units ]; then
    [ -x "$BINARY" ] || die "$BINARY is not an executable"
    for u in vrrp-ha@.service vrrp-ha.service vrrp-ha-witness.service; do
        [ -f "$UNITDIR/$u" ] || die "$UNITDIR/$u is missing"
    done
else
    for d in "$DEB" "$DEB2"; do
        [ -f "$d" ] || die "$d is missing"
    done
    command -v lintian >/dev/null || die "lintian is not installed"
    command -v objdump >/dev/null || die "objdump is not installed (package binutils)"
fi

T_START=$SECONDS
ROOTFS=$(rootfs)

# --- per-run state, removed by cleanup() -----------------------------------------
P=vhsd$$      # namespace/link prefix, <= 15 chars with its suffixes
NS_CT=${P}c   # the container's network namespace
NS_PEER=${P}h # the namespace holding the other end of its veth
MACHINE=vrrp-ha-test-$$
WORK=$(mktemp -d /tmp/vrrp-ha-systemd-host.XXXXXX)
ROOT=$WORK/root
NSPAWN_PID=
LEADER=
PEER_PID=    # the vrrp-ha in $NS_PEER (package checks)
LINTIAN_PID= # lintian, run while the container boots

cleanup() {
    local rc=$?
    set +e
    if [ -n "${VRRP_HA_HOLD:-}" ]; then
        log "holding for $VRRP_HA_HOLD s (VRRP_HA_HOLD): nsenter --target $LEADER --all"
        sleep "$VRRP_HA_HOLD"
    fi
    if [ "$rc" -ne 0 ] && [ -n "$LEADER" ] && kill -0 "$LEADER" 2>/dev/null; then
        log "the container's view at the failure:"
        ct systemctl --no-pager status 'vrrp-ha*' >&2
        ct journalctl --no-pager -q -n 60 -u 'vrrp-ha*' >&2
        ct ip addr >&2
    fi
    [ -z "$LINTIAN_PID" ] || kill "$LINTIAN_PID" 2>/dev/null
    if [ -n "$PEER_PID" ]; then
        kill "$PEER_PID" 2>/dev/null
        wait "$PEER_PID" 2>/dev/null
        [ "$rc" -eq 0 ] || { log "the peer's log:" && tail -n 20 "$WORK/peer.log" >&2; }
    fi
    power_off
    if [ "$rc" -ne 0 ] && [ -s "$WORK/console.log" ]; then
        log "last console lines:"
        tail -n 40 "$WORK/console.log" >&2
    fi
    mountpoint -q "$ROOT" && umount "$ROOT"
    ip netns del "$NS_CT" 2>/dev/null
    ip netns del "$NS_PEER" 2>/dev/null
    if [ -n "${VRRP_HA_KEEP:-}" ]; then
        log "kept $WORK (VRRP_HA_KEEP)"
    else
        # --one-file-system: should the overlay still be mounted, leave it alone.
        rm -rf --one-file-system "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- a throw-away overlay of the cached rootfs -----------------------------------
mkdir -p "$WORK/upper" "$WORK/ovl-work" "$ROOT"
mount -t overlay overlay -o "lowerdir=$ROOTFS,upperdir=$WORK/upper,workdir=$WORK/ovl-work" "$ROOT"
VI_1_KDL='// written by scripts/systemd-host.sh
instance "VI_1" {
    interface "eth0"
    vrid 51
    priority 100
    advert-interval "100ms"
    virtual-ip "192.0.2.200/24"
}
'
# vrid 256: ExecStartPre (vrrp-ha check) must refuse this file.
BAD_KDL='instance "BAD" {
    interface "eth0"
    vrid 256
    virtual-ip "192.0.2.201/24"
}
'
# shellcheck disable=SC2016 # backquotes of the diagnostic, not a command
VRID_DIAG='`vrid` 256 is out of range'
# VI_1 with a typo, for a reload that must be refused.
TYPO_KDL=${VI_1_KDL/priority 100/priorty 100}
# The end of its diagnostic, which the 10 journal lines of `systemctl status` show
# (the first lines, `unknown node `priorty``, scroll out of them).
# shellcheck disable=SC2016
TYPO_DIAG='help: did you mean `priority`?'
if [ "$MODE" = units ]; then
    install -m 0755 "$BINARY" "$ROOT/usr/sbin/vrrp-ha"
    install -m 0644 "$UNITDIR/vrrp-ha@.service" "$UNITDIR/vrrp-ha.service" \
        "$UNITDIR/vrrp-ha-witness.service" "$ROOT/etc/systemd/system/"
    install -d -m 0755 "$ROOT/etc/vrrp-ha"
    printf '%s' "$VI_1_KDL" >"$ROOT/etc/vrrp-ha/VI_1.kdl"
    printf '%s' "$BAD_KDL" >"$ROOT/etc/vrrp-ha/BAD.kdl"
    # The witness's key, root's alone (systemd hands it to the dynamic user), and the
    # same file for the BACKUP that asks it from the peer namespace.
    printf '%s\n' 7d2a5c1e9f3b8046a1c7e2d9b5f0386e >"$WORK/witness.key"
    chmod 0600 "$WORK/witness.key"
    install -m 0600 "$WORK/witness.key" "$ROOT/etc/vrrp-ha/witness.key"
    printf 'WITNESS_INTERFACE=eth0\nWITNESS_LISTEN=192.0.2.10:5112\n' >"$ROOT/etc/default/vrrp-ha-witness"
else
    # The packages go in as they are; everything else comes from them.
    install -m 0644 "$DEB" "$DEB2" "$ROOT/root/"
    # The binary as packaged, for its GLIBC check and to run the peer.
    dpkg-deb -x "$DEB" "$WORK/pkg"
    lintian --fail-on error "$DEB" >"$WORK/lintian.log" 2>&1 &
    LINTIAN_PID=$!
fi

# --- network: two namespaces of our own and a veth between them -----------------
ip netns add "$NS_CT"
ip netns add "$NS_PEER"
ip -n "$NS_PEER" link add "${P}p" type veth peer name eth0 netns "$NS_CT"
ip -n "$NS_PEER" addr add 192.0.2.1/24 dev "${P}p"
ip -n "$NS_PEER" link set "${P}p" up
ip -n "$NS_CT" addr add 192.0.2.10/24 dev eth0
ip -n "$NS_CT" link set eth0 up
ip -n "$NS_CT" link set lo up

# --- boot -----------------------------------------------------------------------
# Runs a command inside the container (all its namespaces, its root).
ct() {
    nsenter --target "$LEADER" --mount --uts --ipc --net --pid --cgroup --root --wd -- \
        /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C SYSTEMD_PAGER= SYSTEMD_COLORS=0 "$@"
}

# Boots the overlay and waits until systemd reports running (or degraded).
boot() {
    local t0=$SECONDS deadline state c
    log "booting $MACHINE from an overlay of $ROOTFS"
    # --register=no --keep-unit: no system bus is needed on the host (no machined, no
    # transient scope), so this works where the host does not run systemd at all;
    # --link-journal=no: the host's /var/log/journal is never touched.
    # --capability=CAP_NET_ADMIN: what --private-network would grant; a joined
    # namespace does not get it, and without it adding the VIP fails with EPERM.
    systemd-nspawn --quiet --boot --directory="$ROOT" --machine="$MACHINE" \
        --network-namespace-path="/run/netns/$NS_CT" --register=no --keep-unit --link-journal=no \
        --capability=CAP_NET_ADMIN \
        --console=pipe -- systemd.show_status=yes </dev/null >>"$WORK/console.log" 2>&1 &
    NSPAWN_PID=$!
    LEADER=

    # The container's PID 1 is the child of nspawn that runs systemd.
    deadline=$((SECONDS + 30))
    while [ -z "$LEADER" ]; do
        kill -0 "$NSPAWN_PID" 2>/dev/null || die "systemd-nspawn exited early"
        # shellcheck disable=SC2013 # the file is one line of space-separated PIDs
        for c in $(cat /proc/"$NSPAWN_PID"/task/*/children 2>/dev/null); do
            [ "$(cat /proc/"$c"/comm 2>/dev/null)" = systemd ] && LEADER=$c
        done
        [ $SECONDS -lt $deadline ] || die "no systemd process in the container after 30 s"
        [ -n "$LEADER" ] || sleep 0.1
    done

    deadline=$((SECONDS + 90))
    while :; do
        state=$(ct systemctl is-system-running 2>/dev/null) || true
        case "$state" in running | degraded) break ;; esac
        kill -0 "$NSPAWN_PID" 2>/dev/null || die "the container stopped while booting"
        [ $SECONDS -lt $deadline ] || die "system not up after 90 s (state: ${state:-none})"
        sleep 0.2
    done
    log "booted in $((SECONDS - t0)) s: $state"
    if [ "$state" = degraded ]; then
        log "failed units (not ours):"
        ct systemctl --failed --no-legend >&2 || true
    fi
}

# Powers the container off: nspawn turns SIGTERM into a clean shutdown.
power_off() {
    local t0=$SECONDS deadline
    [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null || return 0
    kill -TERM "$NSPAWN_PID"
    deadline=$((SECONDS + 30))
    while kill -0 "$NSPAWN_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
    if kill -0 "$NSPAWN_PID" 2>/dev/null; then
        log "container did not power off within 30 s; killing it"
        [ -n "$LEADER" ] && kill -KILL "$LEADER"
        kill -KILL "$NSPAWN_PID"
    fi
    wait "$NSPAWN_PID" 2>/dev/null
    NSPAWN_PID=
    LEADER=
    log "container powered off in $((SECONDS - t0)) s"
}

# One container at a time: with --keep-unit both would live in the cgroup we were
# started in, and two systemds managing one cgroup tree (both with a
# vrrp-ha@VI_1.service) kill each other's units and lose their notify messages.
exec 8>"$CACHE_DIR/.container.lock"
if ! flock -n 8; then
    log "waiting for another run's container to power off"
    flock -w 600 8 || die "another run's container still up after 600 s"
fi
T_BOOT=$SECONDS
boot

# --- the checks -------------------------------------------------------------------
T_TEST=$SECONDS
CHECKS=0
ok() {
    CHECKS=$((CHECKS + 1))
    log "ok $CHECKS - $*"
}
# poll WHAT SECONDS COMMAND...: until COMMAND succeeds, or fail.
poll() {
    local what=$1 limit=$2 deadline
    shift 2
    deadline=$((SECONDS + limit))
    until "$@"; do
        [ $SECONDS -lt $deadline ] || die "$what: not within $limit s"
        sleep 0.1
    done
}
# poll_quiet SECONDS COMMAND...: until COMMAND succeeds (0), or 1 after SECONDS.
poll_quiet() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }
# (Output captured first, not piped into grep -q: with pipefail, a writer that grep
# leaves behind dies of SIGPIPE and turns a match into a failure.)
vip_on_ct() { [[ $(ct ip -o addr show dev eth0) == *"inet $1/24 "* ]]; }
has_vip() { vip_on_ct 192.0.2.200; }
no_vip() { ! has_vip; }
prop() { ct systemctl show -P "$2" "$1"; }
journal_has() { [[ $(ct journalctl -q -o cat -u "$1") == *"$2"* ]]; }

# Copies $1 to stderr, indented.
show() { printf '%s\n' "$1" | sed 's/^/    | /' >&2; }

# A reload of VI_1 with a typo in its file: `systemctl reload` fails (the unit's
# ExecReload= runs `vrrp-ha check` first), `systemctl status` shows the
# diagnostic, and the daemon was not even signalled: same PID, same VIP.
check_refused_reload() {
    local pid hups out status
    pid=$(prop vrrp-ha@VI_1 MainPID)
    hups=$(ct journalctl -q -o cat -u vrrp-ha@VI_1 | grep -c "SIGHUP: reloading configuration") || true
    printf '%s' "$TYPO_KDL" >"$ROOT/etc/vrrp-ha/VI_1.kdl"
    if out=$(ct systemctl reload vrrp-ha@VI_1 2>&1); then
        die "systemctl reload with an invalid file exited 0: $out"
    fi
    # systemctl status shows the unit's last journal lines: the check's output, once
    # journald has read it from the check's stderr.
    status_shows() {
        status=$(ct systemctl status --no-pager vrrp-ha@VI_1 2>&1) || true
        grep -qF -- "$TYPO_DIAG" <<<"$status" && grep -qF "priorty 100" <<<"$status" &&
            grep -qF "ExecReload=/usr/sbin/vrrp-ha check --config /etc/vrrp-ha/VI_1.kdl (code=exited, status=1/FAILURE)" <<<"$status"
    }
    if ! poll_quiet 5 status_shows; then die "the diagnostic is not in systemctl status: $status"; fi
    [ "$(ct systemctl is-active vrrp-ha@VI_1)" = active ] || die "not active after a refused reload"
    [ "$(prop vrrp-ha@VI_1 MainPID)" = "$pid" ] || die "MainPID changed on a refused reload"
    [ "$(ct journalctl -q -o cat -u vrrp-ha@VI_1 | grep -c "SIGHUP: reloading configuration")" = "$hups" ] ||
        die "the daemon got SIGHUP although the check failed"
    has_vip || die "VIP gone after a refused reload"
    printf '%s' "$VI_1_KDL" >"$ROOT/etc/vrrp-ha/VI_1.kdl"
    ok "reload with a typo: systemctl reload exits non-zero ('${out%%.*}.'), '$TYPO_DIAG' in systemctl status, same PID $pid, VIP kept"
    log "systemctl status after the refused reload:"
    show "$status"
}

# --- the units, installed by hand -----------------------------------------------
check_units() {
    ct systemctl enable --now vrrp-ha@VI_1.service >&2 || {
        ct journalctl -q --no-pager -u vrrp-ha@VI_1 >&2
        die "systemctl enable --now vrrp-ha@VI_1 failed"
    }
    ok "systemctl enable --now vrrp-ha@VI_1"
    [ "$(ct systemctl is-enabled vrrp-ha@VI_1)" = enabled ] || die "not enabled"
    [ -L "$ROOT/etc/systemd/system/multi-user.target.wants/vrrp-ha@VI_1.service" ] ||
        die "no multi-user.target.wants symlink"
    ok "enabled: multi-user.target.wants/vrrp-ha@VI_1.service"

    # Type=notify: `enable --now` returns once READY=1 arrived, so active already.
    a=$(ct systemctl is-active vrrp-ha@VI_1) || true
    [ "$a" = active ] || die "is-active after start: $a"
    ok "active right after start (READY=1 received)"

    poll "VIP 192.0.2.200/24 on eth0" 10 has_vip
    ok "VIP 192.0.2.200/24 on the container's eth0 (MASTER alone)"
    # On the wire: a datagram from the peer namespace makes it resolve the VIP; the
    # answer must carry the container's MAC (no ping needed on the host).
    # (From netlink: the container's /sys shows the sysfs of nspawn's own namespace.)
    CT_MAC=$(ct ip -o link show dev eth0 | grep -oE 'link/ether [0-9a-f:]+' | cut -d' ' -f2)
    vip_resolves() {
        ip netns exec "$NS_PEER" bash -c 'echo >/dev/udp/192.0.2.200/9' 2>/dev/null
        ip -n "$NS_PEER" neigh show 192.0.2.200 | grep -q "lladdr $CT_MAC"
    }
    poll "ARP for the VIP answered with $CT_MAC" 5 vip_resolves
    ok "the VIP answers ARP in the peer namespace with the container's MAC $CT_MAC"

    # The transition event itself (the actions runner logs its own line with VRRP_STATE).
    master_json() { ct journalctl -q -u vrrp-ha@VI_1 VRRP_STATE=MASTER TARGET=vrrp_ha::transition -o json; }
    master_logged() { [ -n "$(master_json)" ]; }
    poll "journal entry with VRRP_STATE=MASTER" 10 master_logged
    J=$(master_json | tail -n 1)
    field() { printf '%s' "$J" | grep -oE "\"$1\":\"[^\"]*\"" | head -n 1 | cut -d'"' -f4; }
    [ "$(field VRRP_INSTANCE)" = VI_1 ] || die "VRRP_INSTANCE: '$(field VRRP_INSTANCE)' in $J"
    [ "$(field VRRP_VRID)" = 51 ] || die "VRRP_VRID: '$(field VRRP_VRID)' in $J"
    [ "$(field VRRP_PRIORITY)" = 100 ] || die "VRRP_PRIORITY: '$(field VRRP_PRIORITY)' in $J"
    [ -n "$(field VRRP_PREV_STATE)" ] || die "no VRRP_PREV_STATE in $J"
    [ "$(field VRRP_PREV_STATE)" != MASTER ] || die "VRRP_PREV_STATE is MASTER in $J"
    [ -n "$(field VRRP_REASON)" ] || die "no VRRP_REASON in $J"
    [ "$(field _SYSTEMD_UNIT)" = vrrp-ha@VI_1.service ] || die "_SYSTEMD_UNIT: '$(field _SYSTEMD_UNIT)'"
    if printf '%s' "$J" | grep -q '"F_VRRP_'; then die "F_-prefixed fields in $J"; fi
    ok "journalctl -u vrrp-ha@VI_1 VRRP_STATE=MASTER: VRRP_INSTANCE=VI_1 VRRP_VRID=51 VRRP_PRIORITY=100 VRRP_PREV_STATE=$(field VRRP_PREV_STATE) VRRP_REASON='$(field VRRP_REASON)'"

    status_text() { prop vrrp-ha@VI_1 StatusText | grep -q "VI_1 MASTER prio 100"; }
    poll "STATUS= 'VI_1 MASTER prio 100'" 10 status_text
    ok "StatusText: $(prop vrrp-ha@VI_1 StatusText)"

    ct vrrp-ha status 2>&1 | grep -q MASTER || die "vrrp-ha status does not show MASTER: $(ct vrrp-ha status 2>&1)"
    ok "vrrp-ha status inside the container shows MASTER"

    # WATCHDOG=1: systemd records the time of every keep-alive it receives.
    W0=$(prop vrrp-ha@VI_1 WatchdogTimestampMonotonic)
    watchdog_moved() {
        local w
        w=$(prop vrrp-ha@VI_1 WatchdogTimestampMonotonic)
        [ "$w" != "$W0" ] && [ "$w" != 0 ]
    }
    poll "a WATCHDOG=1 keep-alive" 12 watchdog_moved
    ok "WATCHDOG=1 keep-alives arrive (WatchdogUSec=$(prop vrrp-ha@VI_1 WatchdogUSec))"

    PID=$(prop vrrp-ha@VI_1 MainPID)
    ct systemctl reload vrrp-ha@VI_1 ||
        die "systemctl reload failed: $(ct journalctl -q -o cat -n 3 -u vrrp-ha@VI_1 | tr '\n' ' ')"
    poll "reload logged" 10 journal_has vrrp-ha@VI_1 "SIGHUP: reloading configuration"
    [ "$(ct systemctl is-active vrrp-ha@VI_1)" = active ] || die "not active after reload"
    [ "$(prop vrrp-ha@VI_1 MainPID)" = "$PID" ] || die "MainPID changed on reload"
    has_vip || die "VIP gone after reload"
    ok "systemctl reload: same PID $PID, still active, VIP kept, reload logged"

    check_refused_reload

    # A stuck event loop: no more WATCHDOG=1, so systemd aborts it within WatchdogSec
    # and Restart=on-failure brings it back. (The shell's kill: procps is not installed.)
    PID=$(prop vrrp-ha@VI_1 MainPID)
    t0=$(now_ms)
    ct sh -c "kill -STOP $PID"
    restarted() {
        local p
        p=$(prop vrrp-ha@VI_1 MainPID)
        [ "$p" != 0 ] && [ "$p" != "$PID" ] && [ "$(ct systemctl is-active vrrp-ha@VI_1)" = active ]
    }
    poll "restart after a watchdog timeout" 30 restarted
    took=$(($(now_ms) - t0))
    journal_has vrrp-ha@VI_1 "Watchdog timeout" || die "no watchdog timeout in the journal"
    # The last keep-alive came 0..5 s before the stop; then WatchdogSec=10s, RestartSec=1s
    # and the start itself (slack for a loaded machine; a 30 s watchdog would still fail).
    if [ "$took" -lt 5000 ] || [ "$took" -gt 20000 ]; then die "restarted $took ms after the stop, expected 5..20 s"; fi
    [ "$(prop vrrp-ha@VI_1 NRestarts)" = 1 ] || die "NRestarts=$(prop vrrp-ha@VI_1 NRestarts)"
    poll "VIP back after the watchdog restart" 10 has_vip
    ok "SIGSTOPped daemon: watchdog timeout, restarted as PID $(prop vrrp-ha@VI_1 MainPID) after $took ms, VIP back"

    # What vrrp-ha(8) says `restart` does with a bad file: the daemon is stopped,
    # ExecStartPre refuses the file, Restart= tries again until the start limit
    # (5 starts in 10 s), the unit ends failed and takes no start until reset-failed.
    printf '%s' "$TYPO_KDL" >"$ROOT/etc/vrrp-ha/VI_1.kdl"
    t0=$(now_ms)
    if ct systemctl restart vrrp-ha@VI_1 2>/dev/null; then die "systemctl restart with a typo exited 0"; fi
    no_vip || die "VIP still there after a restart with a typo"
    gave_up() { [ "$(ct systemctl is-active vrrp-ha@VI_1)" = failed ]; }
    poll "vrrp-ha@VI_1 failed after its restarts" 20 gave_up
    took=$(($(now_ms) - t0))
    journal_has vrrp-ha@VI_1 "Start request repeated too quickly" || die "no start limit in the journal"
    restarts=$(prop vrrp-ha@VI_1 NRestarts)
    printf '%s' "$VI_1_KDL" >"$ROOT/etc/vrrp-ha/VI_1.kdl"
    if ct systemctl start vrrp-ha@VI_1 2>/dev/null; then die "started again before reset-failed"; fi
    ct systemctl reset-failed vrrp-ha@VI_1
    ct systemctl start vrrp-ha@VI_1 || die "no start after the file was fixed and reset-failed"
    poll "VIP back after reset-failed and start" 10 has_vip
    ok "restart with a typo: node out at once (VIP gone), failed at the start limit after $took ms ($restarts restarts), start refused until reset-failed, then MASTER again"

    ct systemctl stop vrrp-ha@VI_1 || die "systemctl stop failed"
    no_vip || die "VIP still on eth0 after stop"
    [ "$(ct systemctl is-active vrrp-ha@VI_1)" = inactive ] || die "not inactive after stop"
    [ "$(prop vrrp-ha@VI_1 Result)" = success ] || die "Result after stop: $(prop vrrp-ha@VI_1 Result)"
    journal_has vrrp-ha@VI_1 "vrrp-ha stopped" || die "no 'vrrp-ha stopped' in the journal"
    ok "systemctl stop: VIP removed, inactive, Result=success"

    if ct systemctl start vrrp-ha@BAD 2>/dev/null; then die "vrrp-ha@BAD started with vrid 256"; fi
    poll "diagnostic of the invalid file in the journal" 10 journal_has vrrp-ha@BAD "$VRID_DIAG"
    [ "$(prop vrrp-ha@BAD ExecMainStartTimestampMonotonic)" = 0 ] || die "vrrp-ha run started despite the failed check"
    ok "start with an invalid file fails in ExecStartPre, diagnostic in the journal (Result=$(prop vrrp-ha@BAD Result))"
    ct systemctl stop vrrp-ha@BAD 2>/dev/null || true

    # The plain unit, with /etc/vrrp-ha/vrrp-ha.kdl.
    printf '%s' "$VI_1_KDL" >"$ROOT/etc/vrrp-ha/vrrp-ha.kdl"
    ct systemctl start vrrp-ha.service || die "systemctl start vrrp-ha failed"
    [ "$(ct systemctl is-active vrrp-ha)" = active ] || die "vrrp-ha.service is not active"
    poll "VIP from vrrp-ha.service" 10 has_vip
    ct systemctl stop vrrp-ha.service || die "systemctl stop vrrp-ha failed"
    no_vip || die "VIP still on eth0 after stopping vrrp-ha.service"
    ok "vrrp-ha.service: starts with /etc/vrrp-ha/vrrp-ha.kdl, holds the VIP, stop removes it"

    check_witness

    # `enable` means started at boot: power off (VI_1 is stopped but enabled) and boot again.
    power_off
    boot
    [ "$(ct systemctl is-active vrrp-ha@VI_1)" = active ] || die "vrrp-ha@VI_1 not active after boot"
    poll "VIP after boot" 10 has_vip
    master_this_boot() { [ -n "$(ct journalctl -q -b -u vrrp-ha@VI_1 VRRP_STATE=MASTER TARGET=vrrp_ha::transition -o json)" ]; }
    poll "MASTER transition in this boot's journal" 10 master_this_boot
    ok "after a reboot the enabled vrrp-ha@VI_1 is active and MASTER with the VIP"
}

# The witness unit: its sandbox leaves it a raw socket, UDP and its credential. A
# BACKUP in the peer namespace asks it about a VRID nobody serves; the witness, which
# hears nobody there, answers, and the BACKUP takes over at once on its word.
check_witness() {
    local pid uid caps sched
    ct systemctl start vrrp-ha-witness.service >&2 || {
        ct journalctl -q --no-pager -u vrrp-ha-witness >&2
        die "systemctl start vrrp-ha-witness failed"
    }
    [ "$(ct systemctl is-active vrrp-ha-witness)" = active ] || die "vrrp-ha-witness is not active"
    pid=$(prop vrrp-ha-witness MainPID)
    # shellcheck disable=SC2016 # awk's $2, not the shell's
    uid=$(ct awk '/^Uid:/ { print $2 }' "/proc/$pid/status")
    # shellcheck disable=SC2016
    caps=$(ct awk '/^CapEff:/ { print $2 }' "/proc/$pid/status")
    [ "$uid" != 0 ] || die "the witness runs as root"
    # CAP_NET_RAW is bit 13.
    [ "$caps" = 0000000000002000 ] || die "the witness's effective capabilities are $caps, not CAP_NET_RAW alone"
    # /proc/PID/stat fields 40 and 41: rt_priority and policy (2 is SCHED_RR).
    # shellcheck disable=SC2016
    sched=$(ct awk '{ print $40 "/" $41 }' "/proc/$pid/stat")
    [ "$sched" = 50/2 ] || die "the witness runs at priority/policy $sched, not 50/2 (SCHED_RR)"
    journal_has vrrp-ha-witness "vrrp-ha witness listening on eth0 and answering on 192.0.2.10:5112" ||
        die "the witness did not log that it listens"
    ok "vrrp-ha-witness.service: active (READY=1) as uid $uid with CAP_NET_RAW alone at SCHED_RR 50, key from its credential"
    # Its "nobody there" counts once it has listened a whole Master_Down_Interval (0.36 s).
    sleep 0.5
    sed "s/VI_1/WPEER/; s/eth0/${P}p/; s/vrid 51/vrid 60/; s/192.0.2.200/192.0.2.210/" <<<"$VI_1_KDL" |
        sed "s|^}|    witness \"192.0.2.10\"\n    witness-key-file \"$WORK/witness.key\"\n}|" >"$WORK/wpeer.kdl"
    ip netns exec "$NS_PEER" env VRRP_HA_STATE_DIR="$WORK/peer-state" \
        "$BINARY" run --config "$WORK/wpeer.kdl" >"$WORK/peer.log" 2>&1 </dev/null &
    PEER_PID=$!
    # The peer's status file says why it became MASTER (its log may go to a journal).
    wpeer_master() { [[ $(cat "$WORK/peer-state/wpeer.json" 2>/dev/null) == *"witness agreed: 1 of 1"* ]]; }
    poll "the peer MASTER of vrid 60 on the witness's word" 10 wpeer_master
    answered() { [[ $(prop vrrp-ha-witness StatusText) == *"1 queries answered, 0 refused"* ]]; }
    poll "the witness's answer in its STATUS=" 5 answered
    ok "a BACKUP in the peer namespace asked the witness and took over on its word ($(prop vrrp-ha-witness StatusText))"
    kill "$PEER_PID" && wait "$PEER_PID" 2>/dev/null
    PEER_PID=
    ct systemctl stop vrrp-ha-witness.service || die "systemctl stop vrrp-ha-witness failed"
}

# --- the Debian package ---------------------------------------------------------
# (No --no-download: apt 2.6 then calls a local .deb's path relative. The container has
# no route out anyway, so a missing dependency fails instead of being downloaded.)
apt_get() { ct env DEBIAN_FRONTEND=noninteractive apt-get -q -y "$@"; }
# The state the daemon of /etc/vrrp-ha/$1.kdl records for its instance (the
# container's /run is its own tmpfs, not the overlay's).
state_of() { ct cat "/run/vrrp-ha/$1.json" 2>/dev/null | grep -oE '"state":"[A-Z]+"' | head -n1 | cut -d'"' -f4; }
is_state() { [ "$(state_of "$1")" = "$2" ]; }
# RequestName on the container's system bus, as root or (with `setpriv ...`) not.
request_name() {
    ct "$@" busctl call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
        RequestName su io.vrrpha.Daemon1.pkgtest 0 2>&1
}
root_may_own() { [ "$(request_name)" = "u 1" ]; }
# One line of the apt output.
line_of() { grep -m 1 -nF -- "$2" <<<"$1" | cut -d: -f1; }

check_package() {
    local deb deb2 out v f t0 pid1 pid2 pid3 l1 l2 max nobody
    deb=/root/$(basename "$DEB")
    deb2=/root/$(basename "$DEB2")

    # Built on Debian 12, the binary must not need a newer glibc than 2.36.
    max=$(objdump -T "$WORK/pkg/usr/sbin/vrrp-ha" | grep -oE 'GLIBC_[0-9]+\.[0-9]+' | sort -uV | tail -n 1)
    [ -n "$max" ] || die "no GLIBC symbol versions in the binary"
    [ "$(printf '%s\n' "$max" GLIBC_2.36 | sort -V | tail -n 1)" = GLIBC_2.36 ] ||
        die "the binary needs $max, newer than Debian 12's glibc 2.36"
    ok "the packaged binary needs at most $max (Debian 12 has GLIBC_2.36)"

    # Control: without the package's policy, the system bus lets nobody own the name.
    root_may_own && die "root may own io.vrrpha.Daemon1.pkgtest before the install"

    t0=$SECONDS
    out=$(apt_get install "$deb" 2>&1) || { show "$out" && die "apt-get install $deb failed"; }
    v=$(ct dpkg-query -W -f "\${Status} \${Version}" vrrp-ha)
    [ "$v" = "install ok installed $(dpkg-deb -f "$DEB" Version)" ] || die "after the install: $v"
    ok "apt-get install $deb: $v, in $((SECONDS - t0)) s"

    for f in /usr/sbin/vrrp-ha /lib/systemd/system/vrrp-ha.service /lib/systemd/system/vrrp-ha@.service \
        /lib/systemd/system/vrrp-ha-witness.service /usr/share/man/man8/vrrp-ha.8.gz /usr/share/man/man5/vrrp-ha.kdl.5.gz \
        /usr/share/bash-completion/completions/vrrp-ha /usr/share/zsh/vendor-completions/_vrrp-ha \
        /usr/share/fish/vendor_completions.d/vrrp-ha.fish /etc/vrrp-ha/example.kdl \
        /usr/share/dbus-1/system.d/io.vrrpha.Daemon1.conf /usr/share/doc/vrrp-ha/copyright \
        /usr/share/doc/vrrp-ha/changelog.Debian.gz; do
        [ -s "$ROOT$f" ] || die "$f is not installed"
    done
    ct dpkg-query -W -f "\${Conffiles}" vrrp-ha | grep -q '^ /etc/vrrp-ha/example.kdl ' ||
        die "/etc/vrrp-ha/example.kdl is not a conffile"
    out=$(ct vrrp-ha --version) || die "vrrp-ha --version failed"
    ok "installed: binary ($out), units, man pages, completions, example conffile, D-Bus policy, copyright, changelog"

    [ "$(prop vrrp-ha@VI_1 FragmentPath)" = /lib/systemd/system/vrrp-ha@.service ] ||
        die "systemd does not see /lib/systemd/system/vrrp-ha@.service"
    [ "$(prop vrrp-ha@VI_1 NeedDaemonReload)" = no ] || die "NeedDaemonReload after the install"
    ok "systemd loads vrrp-ha@VI_1 from /lib/systemd/system"

    # dbus-daemon notices the new file by itself (inotify) and reloads.
    poll "root may own io.vrrpha.Daemon1.* on the system bus" 10 root_may_own
    nobody=$(request_name setpriv --reuid=65534 --regid=65534 --clear-groups) &&
        die "nobody may own io.vrrpha.Daemon1.pkgtest: $nobody"
    grep -q "Access denied" <<<"$nobody" || die "nobody's RequestName failed otherwise: $nobody"
    ok "the system bus applies the policy: root may own io.vrrpha.Daemon1.pkgtest, nobody may not"

    out=$(ct man -k vrrp) || die "man -k vrrp found nothing"
    if ! grep -q '^vrrp-ha (8) ' <<<"$out" || ! grep -q '^vrrp-ha.kdl (5) ' <<<"$out"; then
        die "man -k vrrp: $out"
    fi
    out=$(ct apropos 'highly available') || die "apropos 'highly available' found nothing"
    grep -q '^vrrp-ha (8) ' <<<"$out" || die "apropos 'highly available': $out"
    out=$(ct man vrrp-ha.kdl 2>&1) || die "man vrrp-ha.kdl failed: $out"
    grep -q 'preempt-delay' <<<"$out" || die "man vrrp-ha.kdl: no preempt-delay in $(head -n 5 <<<"$out")"
    ok "man -k vrrp finds both pages, apropos 'highly available' finds vrrp-ha(8) by its description; man vrrp-ha.kdl shows the page"

    out=$(ct bash -c '. /usr/share/bash-completion/completions/vrrp-ha && complete -p vrrp-ha') ||
        die "the bash completion does not load"
    head -n 1 "$ROOT/usr/share/zsh/vendor-completions/_vrrp-ha" | grep -q '^#compdef vrrp-ha' ||
        die "the zsh completion has no #compdef line"
    grep -q '^complete -c vrrp-ha ' "$ROOT/usr/share/fish/vendor_completions.d/vrrp-ha.fish" ||
        die "the fish completion has no complete -c vrrp-ha"
    ok "completions: bash loads ($out), zsh has #compdef vrrp-ha, fish has complete -c vrrp-ha"

    out=$(ct vrrp-ha check --config /etc/vrrp-ha/example.kdl 2>&1) || die "the example is refused: $out"
    ok "vrrp-ha check --config $(tail -n 1 <<<"$out")"

    # Three instances: VI_1 and VI_3 MASTER alone, VI_2 BACKUP to a vrrp-ha in the
    # peer namespace with a higher priority.
    printf '%s' "$VI_1_KDL" >"$ROOT/etc/vrrp-ha/VI_1.kdl"
    sed 's/VI_1/VI_2/; s/vrid 51/vrid 52/; s/192.0.2.200/192.0.2.201/' <<<"$VI_1_KDL" >"$ROOT/etc/vrrp-ha/VI_2.kdl"
    sed 's/VI_1/VI_3/; s/vrid 51/vrid 53/; s/192.0.2.200/192.0.2.202/' <<<"$VI_1_KDL" >"$ROOT/etc/vrrp-ha/VI_3.kdl"
    sed "s/VI_1/PEER/; s/eth0/${P}p/; s/vrid 51/vrid 52/; s/priority 100/priority 200/; s/192.0.2.200/192.0.2.201/" \
        <<<"$VI_1_KDL" >"$WORK/peer.kdl"
    ip netns exec "$NS_PEER" env VRRP_HA_STATE_DIR="$WORK/peer-state" \
        "$WORK/pkg/usr/sbin/vrrp-ha" run --config "$WORK/peer.kdl" >"$WORK/peer.log" 2>&1 </dev/null &
    PEER_PID=$!
    peer_master() { grep -qs '"state":"MASTER"' "$WORK/peer-state/peer.json"; }
    poll "the peer MASTER of vrid 52" 10 peer_master

    out=$(ct vrrp-ha check --config /etc/vrrp-ha/VI_1.kdl) || die "vrrp-ha check refuses VI_1.kdl"
    ct systemctl enable --now vrrp-ha@VI_1 vrrp-ha@VI_2 vrrp-ha@VI_3 >&2 ||
        die "systemctl enable --now vrrp-ha@VI_1 vrrp-ha@VI_2 vrrp-ha@VI_3 failed"
    poll "VI_1 MASTER" 10 is_state VI_1 MASTER
    poll "VI_3 MASTER" 10 is_state VI_3 MASTER
    poll "VI_2 BACKUP" 10 is_state VI_2 BACKUP
    if ! has_vip || ! vip_on_ct 192.0.2.202; then die "VIPs of VI_1/VI_3 missing"; fi
    ! vip_on_ct 192.0.2.201 || die "the BACKUP VI_2 holds its VIP"
    ok "$out; enable --now: VI_1 and VI_3 MASTER with their VIPs, VI_2 BACKUP to the peer"

    check_refused_reload

    # The upgrade. VI_3's file gets a typo the new version refuses, so the postinst
    # must leave it running; example.kdl gets a local change dpkg must keep.
    pid1=$(prop vrrp-ha@VI_1 MainPID)
    pid2=$(prop vrrp-ha@VI_2 MainPID)
    pid3=$(prop vrrp-ha@VI_3 MainPID)
    printf '%s' "${TYPO_KDL//VI_1/VI_3}" >"$ROOT/etc/vrrp-ha/VI_3.kdl"
    echo '// a local change' >>"$ROOT/etc/vrrp-ha/example.kdl"
    t0=$SECONDS
    out=$(apt_get install "$deb2" 2>&1) || { show "$out" && die "apt-get install $deb2 failed"; }
    log "apt-get install $deb2 said:"
    show "$(grep -E '^vrrp-ha|Unpacking|Setting up|^  ' <<<"$out")"
    v=$(ct dpkg-query -W -f "\${Version}" vrrp-ha)
    [ "$v" = "$(dpkg-deb -f "$DEB2" Version)" ] || die "version after the upgrade: $v"
    l2=$(line_of "$out" "restarting vrrp-ha@VI_2.service (BACKUP)")
    l1=$(line_of "$out" "restarting vrrp-ha@VI_1.service (MASTER)")
    if [ -z "$l1" ] || [ -z "$l2" ] || [ "$l2" -gt "$l1" ]; then die "not restarted BACKUP first"; fi
    [ "$(prop vrrp-ha@VI_2 ExecMainStartTimestampMonotonic)" -lt "$(prop vrrp-ha@VI_1 ExecMainStartTimestampMonotonic)" ] ||
        die "VI_2 (BACKUP) was not started before VI_1 (MASTER)"
    grep -qF "NOT restarting vrrp-ha@VI_3.service" <<<"$out" || die "no word about VI_3 in the apt output"
    [ "$(prop vrrp-ha@VI_1 MainPID)" != "$pid1" ] || die "VI_1 not restarted"
    [ "$(prop vrrp-ha@VI_2 MainPID)" != "$pid2" ] || die "VI_2 not restarted"
    [ "$(prop vrrp-ha@VI_3 MainPID)" = "$pid3" ] || die "VI_3 restarted despite its invalid file"
    for u in VI_1 VI_2 VI_3; do
        [ "$(ct systemctl is-active vrrp-ha@$u)" = active ] || die "vrrp-ha@$u not active after the upgrade"
    done
    poll "VI_1 MASTER again" 10 is_state VI_1 MASTER
    poll "VIP of VI_1 back" 10 has_vip
    poll "VI_2 BACKUP again" 10 is_state VI_2 BACKUP
    ok "upgrade to $v in $((SECONDS - t0)) s: VI_2 (BACKUP) restarted before VI_1 (MASTER), both new PIDs and active, VI_1 MASTER again with its VIP; VI_3 (file refused) left running as PID $pid3"
    grep -q '^// a local change$' "$ROOT/etc/vrrp-ha/example.kdl" || die "the local change to example.kdl is lost"
    ! ls "$ROOT"/etc/vrrp-ha/example.kdl.dpkg-* >/dev/null 2>&1 || die "dpkg left example.kdl.dpkg-* files"
    ok "the changed conffile /etc/vrrp-ha/example.kdl is kept, silently"

    t0=$SECONDS
    out=$(apt_get remove vrrp-ha 2>&1) || { show "$out" && die "apt-get remove failed"; }
    for u in VI_1 VI_2 VI_3; do
        [ "$(ct systemctl is-active vrrp-ha@$u)" != active ] || die "vrrp-ha@$u still active after remove"
    done
    if has_vip || vip_on_ct 192.0.2.202; then die "VIPs left after remove"; fi
    [ ! -e "$ROOT/usr/sbin/vrrp-ha" ] || die "/usr/sbin/vrrp-ha left after remove"
    if [ ! -f "$ROOT/etc/vrrp-ha/VI_1.kdl" ] || [ ! -f "$ROOT/etc/vrrp-ha/example.kdl" ]; then
        die "remove deleted files in /etc/vrrp-ha"
    fi
    ok "apt-get remove in $((SECONDS - t0)) s: the three units stopped, VIPs gone, /etc/vrrp-ha kept"

    out=$(apt_get purge vrrp-ha 2>&1) || { show "$out" && die "apt-get purge failed"; }
    [ ! -e "$ROOT/etc/vrrp-ha" ] || die "/etc/vrrp-ha left after purge"
    out=$(find "$ROOT/etc/systemd/system" -name 'vrrp-ha*')
    [ -z "$out" ] || die "left after purge: $out"
    v=$(ct dpkg-query -W -f "\${Status}" vrrp-ha 2>&1) || true
    if [ "$v" = "install ok installed" ] || grep -q "config-files" <<<"$v"; then die "after purge: $v"; fi
    [ "$(prop vrrp-ha@VI_1 LoadState)" = not-found ] || die "vrrp-ha@VI_1 still loadable after purge"
    ok "apt-get purge: /etc/vrrp-ha and the enablement links gone, units unknown to systemd"

    wait "$LINTIAN_PID" || { cat "$WORK/lintian.log" >&2 && die "lintian reports errors"; }
    LINTIAN_PID=
    ok "lintian $(basename "$DEB"): no errors ($(grep -c '^W: ' "$WORK/lintian.log") warnings, $(grep -c '^I: ' "$WORK/lintian.log") infos)"
    show "$(cat "$WORK/lintian.log")"
}

if [ "$MODE" = units ]; then
    check_units
else
    check_package
fi
log "all $CHECKS checks passed; checks took $((SECONDS - T_TEST)) s, boot+checks $((SECONDS - T_BOOT)) s, total $((SECONDS - T_START)) s"

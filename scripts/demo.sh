#!/usr/bin/env bash
# Live failover demo: two vrrp-ha load balancers in front of nginx, on one machine,
# inside network namespaces that this script creates and removes again. It never
# touches the machine's own interfaces; the lab uses 192.0.2.0/24 only.
#
#   client ──┐
#   lb1 ─────┤ bridge (own namespace)      VIP 192.0.2.200 on the VRRP master
#   lb2 ─────┤                             nginx on lb1/lb2 proxies to web
#   web ─────┘
#
# Usage (as root): scripts/demo.sh [--keepalived]
#   --keepalived   run the same demo with keepalived instead of vrrp-ha, to compare.
# DEMO_KEEP=1 keeps the logs (daemons, nginx, requests) in a temp dir.
# Installs nginx-light, curl, iproute2 and procps with apt-get when missing; needs cargo.
set -euo pipefail
export LC_ALL=C

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }

IMPL=vrrp-ha
case "${1:-}" in
    "") ;;
    --keepalived) IMPL=keepalived ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
esac

if [ "$(id -u)" -ne 0 ]; then
    echo "demo.sh: run as root: it creates network namespaces (sudo $0)" >&2
    exit 1
fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VIP=192.0.2.200
MAXREQ=600 # the request loop stops by itself after this many requests

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
now_ms() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

# --- prerequisites -------------------------------------------------------------
need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v curl >/dev/null || need+=(curl)
command -v ip >/dev/null || need+=(iproute2)
command -v ps >/dev/null && command -v sysctl >/dev/null || need+=(procps)
if [ "$IMPL" = keepalived ] && ! command -v keepalived >/dev/null && [ ! -x /usr/sbin/keepalived ]; then
    need+=(keepalived)
fi
if [ ${#need[@]} -gt 0 ]; then
    say "installing ${need[*]}"
    # install_packages keeps the packages' services (nginx on the host's port 80) from starting.
    # shellcheck source=scripts/packages.sh
    . "$ROOT/scripts/packages.sh"
    install_packages "${need[@]}"
fi
export PATH=$PATH:/usr/sbin:/sbin
if [ "$IMPL" = vrrp-ha ]; then
    if ! command -v cargo >/dev/null; then
        echo "demo.sh: cargo is needed to build vrrp-ha (https://rustup.rs)" >&2
        exit 1
    fi
    say "building vrrp-ha (cargo build --release)"
    (cd "$ROOT" && cargo build --release --quiet)
    BIN=$ROOT/target/release/vrrp-ha
fi

# --- clean-up of everything this script starts ------------------------------------
P=vhd$(printf %04x $(($$ & 0xffff)))
TMP=$(mktemp -d /tmp/vrrp-ha-demo.XXXXXX)
chmod 755 "$TMP" # nginx workers run as nobody
NSS=()
PIDS=()

descendants() {
    local c
    for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$c"
        descendants "$c"
    done
}

stop_pid() { # SIGTERM, up to 2 s, then SIGKILL of the process and its children
    local pid=$1 kids i
    kids=$(descendants "$pid")
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.02
    done
    # shellcheck disable=SC2086
    kill -KILL "$pid" $kids 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    local rc=$? pid ns
    set +e
    trap - EXIT INT TERM
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}"; done
    for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null; done
    if [ $rc -ne 0 ]; then
        echo "demo failed; logs:" >&2
        for f in "$TMP"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; } >&2; done
    fi
    if [ -n "${DEMO_KEEP:-}" ]; then echo "logs kept in $TMP"; else rm -rf "$TMP"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME HOST ARGV...: runs ARGV in HOST's namespace in the background.
start() {
    local name=$1 host=$2
    shift 2
    ip netns exec "$P$host" "$@" >"$TMP/$name.log" 2>&1 &
    PIDS+=($!)
    LAST_PID=$!
}

# wait_for MS CMD...: polls CMD every 20 ms for at most MS milliseconds.
wait_for() {
    local limit=$(($(now_ms) + $1))
    shift
    until "$@"; do
        [ "$(now_ms)" -lt $limit ] || return 1
        sleep 0.02
    done
}

has_vip() { ip -n "$P$1" -o addr show dev eth0 2>/dev/null | grep -q " $VIP/"; }
master() {
    if has_vip lb1 && ! has_vip lb2; then echo lb1
    elif has_vip lb2 && ! has_vip lb1; then echo lb2
    elif has_vip lb1; then echo "lb1+lb2"
    else echo none; fi
}

# --- the lab -----------------------------------------------------------------------
say "creating namespaces ${P}{sw,client,lb1,lb2,web} and a bridge"
declare -A ADDR=([client]=10 [lb1]=201 [lb2]=202 [web]=50)
ip netns add "${P}sw"
NSS+=("${P}sw")
ip netns exec "${P}sw" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n "${P}sw" link add br0 type bridge mcast_snooping 0 stp_state 0
ip -n "${P}sw" link set br0 up
for h in client lb1 lb2 web; do
    ip netns add "$P$h"
    NSS+=("$P$h")
    ip -n "${P}sw" link add "$h" type veth peer name eth0 netns "$P$h"
    ip -n "${P}sw" link set "$h" master br0 up
    ip netns exec "$P$h" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.eth0.accept_dad=0
    ip -n "$P$h" link set lo up
    ip -n "$P$h" addr add "192.0.2.${ADDR[$h]}/24" dev eth0
    ip -n "$P$h" link set eth0 up
done

nginx_conf() { # nginx_conf HOST: web answers itself, lb1/lb2 proxy to web with X-LB
    local d=$TMP/nginx-$1 loc
    mkdir -p "$d"
    if [ "$1" = web ]; then
        loc='location / { return 200 "hello from web\n"; }'
    else
        loc="location / { proxy_pass http://192.0.2.50:80; add_header X-LB $1 always; }"
    fi
    cat >"$d/nginx.conf" <<EOF
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path $d/body; proxy_temp_path $d/proxy;
    fastcgi_temp_path $d/fastcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;
    server { listen 80; $loc }
}
EOF
    chmod -R 755 "$d"
    echo "$d"
}

say "starting nginx on web, lb1 and lb2"
for h in web lb1 lb2; do
    d=$(nginx_conf $h)
    start "nginx-$h" $h nginx -e "$d/error.log" -c "$d/nginx.conf" -g 'daemon off;'
done
for h in web lb1 lb2; do
    wait_for 5000 ip netns exec "$P$h" curl -fs -o /dev/null --max-time 0.5 "http://192.0.2.${ADDR[$h]}/" ||
        { echo "nginx on $h did not come up" >&2; exit 1; }
done

declare -A VRRP_PID
start_vrrp() { # start_vrrp HOST
    if [ "$IMPL" = vrrp-ha ]; then
        start "vrrp-$1" "$1" "$BIN" run --config "$ROOT/examples/lab/$1.kdl"
    else
        local prio=100 n=$RANDOM
        [ "$1" = lb2 ] && prio=90
        cat >"$TMP/keepalived-$1.conf" <<EOF
global_defs { router_id $1 }
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority $prio
    version 3
    advert_int 0.1
    virtual_ipaddress { $VIP/24 dev eth0 }
}
EOF
        start "vrrp-$1" "$1" keepalived --dont-fork --log-console --vrrp -f "$TMP/keepalived-$1.conf" \
            -p "$TMP/ka-$1-$n.pid" -r "$TMP/ka-vrrp-$1-$n.pid" -c "$TMP/ka-chk-$1-$n.pid"
    fi
    VRRP_PID[$1]=$LAST_PID
}

say "starting $IMPL on lb1 (priority 100) and lb2 (priority 90)"
start_vrrp lb1
start_vrrp lb2
t0=$(now_ms)
if ! wait_for 5000 has_vip lb1; then
    echo "lb1 did not become master" >&2
    exit 1
fi
echo "lb1 became MASTER after $(($(now_ms) - t0)) ms; master now: $(master)"
ip -n "${P}lb1" -br addr show dev eth0 | sed 's/^/  lb1: /'
ip -n "${P}lb2" -br addr show dev eth0 | sed 's/^/  lb2: /'

# --- traffic -----------------------------------------------------------------------
say "client: one HTTP request to http://$VIP/ every 50 ms"
cat >"$TMP/loop.sh" <<EOF
i=0
while [ ! -e "$TMP/stop" ] && [ \$i -lt $MAXREQ ]; do
    i=\$((i + 1))
    r=\$(curl -s -o /dev/null --connect-timeout 0.1 --max-time 0.3 -w '%{http_code} %header{x-lb}' http://$VIP/ || true)
    t=\${EPOCHREALTIME/./} # when the answer (or the failure) came back
    echo "\$((t / 1000)) \${r:-000}"
    sleep 0.05
done
EOF
start requests client bash "$TMP/loop.sh"
LOOP_PID=$LAST_PID
served_by() { # served_by LB SINCE_MS: a request was answered via LB after SINCE_MS
    awk -v lb="$1" -v t="$2" '$1 >= t && $2 == 200 && $3 == lb { f = 1 } END { exit !f }' "$TMP/requests.log"
}
wait_for 5000 served_by lb1 0 || { echo "no request served through the VIP" >&2; exit 1; }
wait_for 2000 bash -c "[ \$(wc -l <'$TMP/requests.log') -ge 20 ]" || true
echo "requests flow via lb1: $(grep -c ' 200 lb1' "$TMP/requests.log") served so far"

SUMMARY=()
# phase NAME ACTION_CMD NEW_MASTER: runs the action, measures the takeover.
phase() {
    local name=$1 action=$2 to=$3 t0 tv th lost
    say "$name"
    t0=$(now_ms)
    eval "$action"
    if ! wait_for 5000 has_vip "$to"; then echo "$to did not take the VIP" >&2; exit 1; fi
    tv=$(($(now_ms) - t0))
    if ! wait_for 5000 served_by "$to" "$t0"; then echo "no request served via $to" >&2; exit 1; fi
    th=$(awk -v lb="$to" -v t="$t0" '$1 >= t && $2 == 200 && $3 == lb { print $1 - t; exit }' "$TMP/requests.log")
    lost=$(awk -v t="$t0" '$1 >= t && $2 != 200 { n++ } END { print n + 0 }' "$TMP/requests.log")
    echo "$to holds the VIP after ${tv} ms; first answer via $to ${th} ms after; failed requests: $lost"
    echo "master now: $(master)"
    SUMMARY+=("$(printf '%-44s %-5s VIP %5s ms  HTTP %5s ms  lost %s' "$name" "$to" "$tv" "$th" "$lost")")
    wait_for 1500 bash -c "[ \$(awk -v t=$t0 '\$1 >= t' '$TMP/requests.log' | wc -l) -ge 12 ]" || true
}

phase "lb1 crashes (its link goes down)" "ip -n ${P}lb1 link set eth0 down" lb2
phase "lb1 comes back (it preempts)" "ip -n ${P}lb1 link set eth0 up" lb1
phase "lb1 stopped cleanly (SIGTERM: priority 0)" "kill -TERM ${VRRP_PID[lb1]}" lb2
phase "lb1's daemon restarts (it preempts)" "start_vrrp lb1" lb1

touch "$TMP/stop"
wait "$LOOP_PID" 2>/dev/null || true
total=$(wc -l <"$TMP/requests.log")
failed=$(awk '$2 != 200 { n++ } END { print n + 0 }' "$TMP/requests.log")
say "summary ($IMPL, VRRPv3, 100 ms adverts)"
printf '%s\n' "${SUMMARY[@]}"
echo "requests: $total sent, $((total - failed)) served, $failed failed"
echo "(lb1: $(grep -c ' 200 lb1' "$TMP/requests.log") via lb1, $(grep -c ' 200 lb2' "$TMP/requests.log") via lb2)"
say "cleaning up"

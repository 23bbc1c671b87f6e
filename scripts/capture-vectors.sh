#!/usr/bin/env bash
# Capture real VRRP adverts from keepalived into tests/vectors/*.txt.
#
# Runs keepalived as MASTER in a throw-away network namespace pair (A sends,
# B captures), once per case: v2 + PASS auth, v3 IPv4 multicast, v3 IPv4
# unicast, v3 IPv6. Writes one vector file per case in the format described in
# tests/vectors/README. Needs root, keepalived, tcpdump and tshark.
#
# Usage: scripts/capture-vectors.sh [OUTDIR]   (default: tests/vectors)
# Env: CAPTURE_COUNT adverts per case (3), CAPTURE_DEADLINE seconds per case
# (30), KEEP_WORK=1 keeps the pcaps and keepalived logs for inspection.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$here/tests/vectors}
count=${CAPTURE_COUNT:-3}
deadline_s=${CAPTURE_DEADLINE:-30}

for tool in keepalived tcpdump tshark ip; do
    command -v "$tool" >/dev/null || { echo "capture-vectors: $tool is missing" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "capture-vectors: needs root (network namespaces)" >&2; exit 1; }

# Unique names: link names stay within IFNAMSIZ (15).
tag="vhcv$$"
nsa="${tag}a"
nsb="${tag}b"
vetha="${tag}x"
vethb="${tag}y"
work=$(mktemp -d "/tmp/${tag}.XXXXXX")
pids=()

cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    ip netns del "$nsa" 2>/dev/null || true
    ip netns del "$nsb" 2>/dev/null || true
    if [ -n "${KEEP_WORK:-}" ]; then
        echo "capture-vectors: kept $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$nsa"
ip netns add "$nsb"
ip -n "$nsa" link add "$vetha" type veth peer name "$vethb" netns "$nsb"
# Fixed MACs make the IPv6 link-local sources stable across captures.
ip -n "$nsa" link set "$vetha" address 02:00:5e:00:00:a1
ip -n "$nsb" link set "$vethb" address 02:00:5e:00:00:b1
for pair in "$nsa $vetha 1" "$nsb $vethb 2"; do
    read -r ns link host <<<"$pair"
    set -- "$ns" "$link" "$host"
    # DAD would hold the IPv6 addresses tentative for a second or more.
    ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.accept_dad=0"
    ip -n "$1" addr add "192.0.2.$3/24" dev "$2"
    ip -n "$1" addr add "2001:db8::$3/64" dev "$2" nodad
    ip -n "$1" link set lo up
    ip -n "$1" link set "$2" up
done

# write_conf NAME BODY: a keepalived config with one vrrp_instance.
write_conf() {
    cat >"$work/$1.conf" <<EOF
global_defs {
    router_id capture_$1
    script_user root
    enable_script_security
    vrrp_garp_master_repeat 1
}
vrrp_instance $1 {
    state MASTER
    interface $vetha
$2
}
EOF
}

write_conf v2_pass "    version 2
    virtual_router_id 51
    priority 150
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    virtual_ipaddress {
        192.0.2.100/24
        192.0.2.101/24
    }"

write_conf v3_ipv4_multicast "    version 3
    virtual_router_id 52
    priority 200
    advert_int 1
    virtual_ipaddress {
        192.0.2.110/24
    }"

write_conf v3_ipv4_unicast "    version 3
    virtual_router_id 53
    priority 120
    advert_int 0.5
    unicast_src_ip 192.0.2.1
    unicast_peer {
        192.0.2.2
    }
    virtual_ipaddress {
        192.0.2.120/24
        192.0.2.121/24
        192.0.2.122/24
    }"

write_conf v3_ipv6 "    version 3
    virtual_router_id 54
    priority 254
    advert_int 0.75
    virtual_ipaddress {
        2001:db8::140/64
        2001:db8::141/64
    }"

# capture NAME DESCRIPTION: run keepalived NAME as master, keep $count adverts
# and the priority 0 advert it sends when stopped.
capture() {
    local name=$1 desc=$2 pcap="$work/$1.pcap" kpid tpid n=0
    local end=$((SECONDS + deadline_s))
    ip netns exec "$nsb" tcpdump -U -n -i "$vethb" -w "$pcap" 'ip proto 112 or ip6 proto 112' \
        >"$work/$name.tcpdump.log" 2>&1 &
    tpid=$!
    pids+=("$tpid")
    # tcpdump prints "listening on" once the capture is armed.
    until grep -qs "listening on" "$work/$name.tcpdump.log"; do
        [ $SECONDS -lt $end ] || { echo "capture-vectors: tcpdump did not start" >&2; exit 1; }
        sleep 0.1
    done
    ip netns exec "$nsa" keepalived --dont-fork --log-console --vrrp \
        -f "$work/$name.conf" -p "$work/$name.pid" -r "$work/$name.vrrp.pid" \
        >"$work/$name.keepalived.log" 2>&1 &
    kpid=$!
    pids+=("$kpid")
    while [ "$n" -lt "$count" ]; do
        if [ $SECONDS -ge $end ]; then
            echo "capture-vectors: $name: only $n adverts within ${deadline_s}s; keepalived said:" >&2
            cat "$work/$name.keepalived.log" >&2
            exit 1
        fi
        sleep 0.2
        n=$(tshark -r "$pcap" 2>/dev/null | wc -l || echo 0)
    done
    # On SIGTERM a master sends one last advert with priority 0 (RFC 9568 6.4.3).
    kill "$kpid"
    wait "$kpid" 2>/dev/null || true
    while [ "$(tshark -r "$pcap" 2>/dev/null | wc -l)" -le "$n" ]; do
        if [ $SECONDS -ge $end ]; then
            echo "capture-vectors: $name: no priority 0 advert on shutdown" >&2
            exit 1
        fi
        sleep 0.2
    done
    kill "$tpid"
    wait "$tpid" 2>/dev/null || true
    # A misspelt keyword is only a log line to keepalived, yet it changes what it sends.
    if grep -qi "unknown keyword" "$work/$name.keepalived.log"; then
        echo "capture-vectors: $name: keepalived rejected part of its config:" >&2
        grep -i "unknown keyword" "$work/$name.keepalived.log" >&2
        exit 1
    fi

    # With the VRRP dissector off, the IP payload is plain data: the VRRP message.
    {
        echo "# $desc"
        echo "# Captured from $(keepalived --version 2>&1 | head -1) by scripts/capture-vectors.sh."
        echo "# Format: see README in this directory."
        tshark -r "$pcap" --disable-protocol vrrp -T fields -E separator=' ' \
            -e ip.src -e ip.dst -e ip.ttl -e ipv6.src -e ipv6.dst -e ipv6.hlim -e data.data |
            awk 'NF == 4 { printf "src=%s dst=%s ttl=%s vrrp=%s\n", $1, $2, $3, $4 }'
    } >"$out/$name.txt"
    echo "capture-vectors: wrote $out/$name.txt ($(grep -c '^src=' "$out/$name.txt") adverts)"
}

mkdir -p "$out"
capture v2_pass "VRRPv2, auth_type PASS \"1111\", vrid 51, priority 150, advert_int 1, VIPs 192.0.2.100 192.0.2.101"
capture v3_ipv4_multicast "VRRPv3 IPv4 multicast, vrid 52, priority 200, advert_int 1, VIP 192.0.2.110"
capture v3_ipv4_unicast "VRRPv3 IPv4 unicast to 192.0.2.2, vrid 53, priority 120, advert_int 0.5, VIPs 192.0.2.120-122"
capture v3_ipv6 "VRRPv3 IPv6 multicast, vrid 54, priority 254, advert_int 0.75, VIPs 2001:db8::140 2001:db8::141"

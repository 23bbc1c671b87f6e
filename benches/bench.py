#!/usr/bin/env python3
"""vrrp-ha against keepalived 2.2.7, side by side, in network namespaces.

Run it through benches/run (which installs the Debian packages and builds vrrp-ha in
release mode); as root:

    benches/run --quick      reduced set, every measurement once (about 3 minutes)
    benches/run --full       the whole suite; writes BENCHMARKS.md (about 24 minutes)
    benches/run --smoke      a few seconds of each kind of run (the CI smoke test)
    benches/run --dry-run    render every configuration and check it with both daemons

The two daemons run alternately, setting by setting, on the same lab, and every table
shows keepalived, vrrp-ha and the ratio vrrp-ha / keepalived. Namespaces are named
vhbn<hex><host>, created here and deleted by name at the end, also on failure and ^C;
only the processes started here are ever signalled, by PID. Python 3.11 standard
library only.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import random
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
KA = "keepalived"
VH = "vrrp-ha"
IMPLS = (KA, VH)
HOSTS = ("client", "lb1", "lb2", "web")
OCTET = {"client": 10, "lb1": 201, "lb2": 202, "web": 50}
PRIO = {"lb1": 100, "lb2": 90}
VIP = "192.0.2.200"
FAILOVER_VRID = 51
CLK_TCK = os.sysconf("SC_CLK_TCK")


def ip_of(host: str) -> str:
    return f"192.0.2.{OCTET[host]}"


class Unsupported(Exception):
    """A setting one daemon cannot express yet (the run is skipped with a note)."""


class BenchError(Exception):
    """A run that did not reach the state it needs (the run fails with this message)."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def now() -> float:
    return time.time()


def wait_until(cond: Callable[[], bool], timeout: float, every: float = 0.005) -> bool:
    """Polls `cond` until it holds or `timeout` seconds pass."""
    end = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(every)


def holds(cond: Callable[[], bool], hold: float, timeout: float, every: float = 0.05) -> bool:
    """Waits until `cond` has held on every poll for `hold` seconds, at most `timeout`."""
    end = time.monotonic() + timeout
    since = None
    while time.monotonic() < end:
        if cond():
            since = since or time.monotonic()
            if time.monotonic() - since >= hold:
                return True
        else:
            since = None
        time.sleep(every)
    return False


def run(argv: list[str], check: bool = True, timeout: float = 30) -> str:
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise BenchError(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()} {p.stdout.strip()}")
    return p.stdout


def pct(xs: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation; nan for no data."""
    if not xs:
        return math.nan
    s = sorted(xs)
    k = (len(s) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


# --------------------------------------------------------------------------------------
# Settings and configurations


@dataclasses.dataclass
class Vrrp:
    """What both daemons are configured with; rendered as KDL and as keepalived.conf."""

    version: int = 3
    interval_ms: int = 100
    instances: int = 1  # 1 = the failover instance (VRID 51, 192.0.2.200/24)
    garp_repeat: int = 5
    track: bool = False  # one tracked nginx check at 1 s
    hook: bool = False  # a time stamp hook on becoming MASTER
    rt: bool = False  # real-time scheduling and memory locking of the VRRP process
    no_rt: bool = False  # vrrp-ha without its default real-time priority (keepalived's default)
    scale: bool = False  # VRIDs 1..N with 198.18.1.N/32, instead of the failover instance

    def vrids(self) -> list[tuple[int, str]]:
        if not self.scale:
            return [(FAILOVER_VRID, f"{VIP}/24")]
        return [(v, f"198.18.1.{v}/32") for v in range(1, self.instances + 1)]

    def interval(self) -> float:
        return self.interval_ms / 1000

    def skew(self, prio: int) -> float:
        """RFC 3768 / RFC 9568 Skew_Time, in seconds (real arithmetic)."""
        base = 1.0 if self.version == 2 else self.interval()
        return (256 - prio) * base / 256

    def mdi(self, prio: int) -> float:
        """Master_Down_Interval = 3 * Advertisement_Interval + Skew_Time."""
        return 3 * self.interval() + self.skew(prio)

    def label(self) -> str:
        iv = f"{self.interval_ms // 1000} s" if self.interval_ms >= 1000 else f"{self.interval_ms} ms"
        return f"v{self.version} {iv}"


def scale_conf(n: int, interval_ms: int) -> Vrrp:
    return Vrrp(version=3, interval_ms=interval_ms, instances=n, scale=True)


def kdl_duration(ms: int) -> str:
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def render_kdl(c: Vrrp, host: str, paths: dict[str, str]) -> str:
    out = [f'router-id "{host}"']
    if c.rt:
        # keepalived's vrrp_rt_priority 50 and vrrp_no_swap (vrrp-ha's default is 10, unlocked).
        out += ["realtime-priority 50", "lock-memory #true"]
    if c.no_rt:
        out.append("realtime-priority 0")
    for vrid, vip in c.vrids():
        out += [
            f'instance "VI_{vrid}" {{',
            '    interface "eth0"',
            f"    vrid {vrid}",
            f"    priority {PRIO[host]}",
            f"    version {c.version}",
            f'    advert-interval "{kdl_duration(c.interval_ms)}"',
        ]
        if c.version == 2:
            out.append('    authentication "1111"')
        out.append(f'    virtual-ip "{vip}"')
        out.append(f"    garp-repeat {c.garp_repeat}")
        if c.track:
            out.append('    track-script "nginx"')
        if c.hook:
            out.append(f'    on-master {{\n        exec "{paths["stamp"]}" "master"\n    }}')
        out.append("}")
    if c.track:
        out += [
            'script "nginx" {',
            '    exec "/usr/bin/curl" "-fsS" "-o" "/dev/null" "--max-time" "1" "http://127.0.0.1/health"',
            '    interval "1s"',
            '    timeout "1s"',
            "    rise 2",
            "    fall 2",
            "    weight -30",
            "}",
        ]
    return "\n".join(out) + "\n"


def render_keepalived(c: Vrrp, host: str, paths: dict[str, str]) -> str:
    g = [
        "global_defs {",
        f"    router_id {host}",
        f"    vrrp_garp_master_repeat {c.garp_repeat}",
        # keepalived's default second burst 5 s later, which vrrp-ha also sends.
        "    vrrp_garp_master_delay 5",
        "    script_user root",
        "    enable_script_security",
    ]
    if c.rt:
        g += ["    vrrp_rt_priority 50", "    vrrp_no_swap"]
    g.append("}")
    out = g
    if c.track:
        out += [
            "vrrp_script nginx {",
            '    script "/usr/bin/curl -fsS -o /dev/null --max-time 1 http://127.0.0.1/health"',
            "    interval 1",
            "    timeout 1",
            "    rise 2",
            "    fall 2",
            "    weight -30",
            "}",
        ]
    for vrid, vip in c.vrids():
        out += [
            f"vrrp_instance VI_{vrid} {{",
            "    state BACKUP",
            "    interface eth0",
            f"    virtual_router_id {vrid}",
            f"    priority {PRIO[host]}",
            f"    version {c.version}",
            f"    advert_int {c.interval_ms / 1000:g}",
        ]
        if c.version == 2:
            out.append("    authentication {\n        auth_type PASS\n        auth_pass 1111\n    }")
        out.append(f"    virtual_ipaddress {{\n        {vip} dev eth0\n    }}")
        if c.track:
            out.append("    track_script {\n        nginx\n    }")
        if c.hook:
            out.append(f'    notify_master "{paths["stamp"]} master"')
        out.append("}")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------
# Packet captures


@dataclasses.dataclass
class Pkt:
    ts: float
    kind: str  # "vrrp" or "arp"
    src: str  # IPv4 source (vrrp) or ARP sender address
    vrid: int = 0
    prio: int = 0
    tip: str = ""  # ARP target address
    op: int = 0  # ARP opcode


def read_pcap(path: Path) -> list[Pkt]:
    """Decodes the VRRP (IPv4) and ARP packets of an Ethernet pcap file."""
    data = path.read_bytes() if path.exists() else b""
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    if magic == 0xA1B2C3D4:
        endian, scale = "<", 1e-6
    elif magic == 0xA1B23C4D:
        endian, scale = "<", 1e-9
    elif magic == 0xD4C3B2A1:
        endian, scale = ">", 1e-6
    else:
        raise BenchError(f"{path}: not a pcap file")
    out: list[Pkt] = []
    off = 24
    hdr = struct.Struct(endian + "IIII")
    while off + 16 <= len(data):
        sec, frac, incl, _ = hdr.unpack_from(data, off)
        off += 16
        frame = data[off : off + incl]
        off += incl
        if len(frame) < 14:
            continue
        ts = sec + frac * scale
        etype = struct.unpack_from("!H", frame, 12)[0]
        if etype == 0x0800 and len(frame) >= 34:
            ihl = (frame[14] & 0x0F) * 4
            proto = frame[23]
            src = socket.inet_ntoa(frame[26:30])
            v = 14 + ihl
            if proto == 112 and len(frame) >= v + 3:
                out.append(Pkt(ts, "vrrp", src, vrid=frame[v + 1], prio=frame[v + 2]))
        elif etype == 0x0806 and len(frame) >= 42:
            op = struct.unpack_from("!H", frame, 20)[0]
            sip = socket.inet_ntoa(frame[28:32])
            tip = socket.inet_ntoa(frame[38:42])
            out.append(Pkt(ts, "arp", sip, tip=tip, op=op))
    return out


# --------------------------------------------------------------------------------------
# CPU and memory of a process tree, from /proc


def children_of() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            stat = Path(f"/proc/{e}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(e))
    return kids


def tree(root: int) -> list[int]:
    kids = children_of()
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def start_time(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


@dataclasses.dataclass
class Usage:
    """A snapshot of a process tree: per-thread run time and run count, reaped children."""

    t: float
    tasks: dict[tuple[int, int], tuple[int, int]]  # (pid, tid) -> (runtime ns, times run)
    reaped_ticks: int  # cutime + cstime of the tree's processes
    hwm_kb: int  # sum of VmHWM (peak RSS) over the tree's processes
    pss_kb: int  # sum of Pss over the tree's processes
    procs: int


def usage(root: int) -> Usage:
    tasks: dict[tuple[int, int], tuple[int, int]] = {}
    reaped = hwm = pss = nproc = 0
    for pid in tree(root):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            # Fields after the comm: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
            reaped += int(stat[13]) + int(stat[14])
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    hwm += int(line.split()[1])
            try:
                for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
            except OSError:
                pass
            for tid in os.listdir(f"/proc/{pid}/task"):
                f = Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()
                tasks[(pid, int(tid))] = (int(f[0]), int(f[2]))
            nproc += 1
        except (OSError, IndexError, ValueError):
            continue
    return Usage(now(), tasks, reaped, hwm, pss, nproc)


def cpu_between(a: Usage, b: Usage) -> dict[str, float]:
    """CPU seconds and run counts between two snapshots of the same tree."""
    run_ns = runs = 0
    per_task: dict[str, list[float]] = {}
    for k, (rt, n) in b.tasks.items():
        rt0, n0 = a.tasks.get(k, (0, 0))
        run_ns += rt - rt0
        runs += n - n0
        per_task[f"{k[0]}/{k[1]}"] = [(rt - rt0) / 1e9, n - n0]
    gone = sum(1 for k in a.tasks if k not in b.tasks)
    return {
        "own_s": run_ns / 1e9,
        "per_task": per_task,
        "reaped_s": (b.reaped_ticks - a.reaped_ticks) / CLK_TCK,
        "runs": runs,
        "tasks_gone": gone,
        "wall_s": b.t - a.t,
    }


def machine_busy() -> tuple[int, int]:
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = f[3] + f[4]
    return sum(f) - idle, sum(f)


def loadavg() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


# --------------------------------------------------------------------------------------
# The lab


class Proc:
    def __init__(self, name: str, popen: subprocess.Popen, logpath: Path):
        self.name, self.popen, self.log = name, popen, logpath

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


class Lab:
    """client, lb1, lb2 and web on one bridge in a namespace of its own, all named
    <prefix><host>; nginx on web, lb1 and lb2 (the load balancers proxy to web)."""

    def __init__(self, workdir: Path, keep: bool):
        self.workdir = workdir
        self.keep = keep
        self.procs: list[Proc] = []
        self.namespaces: list[str] = []
        salt = os.getpid()
        while True:
            self.prefix = f"vhbn{salt & 0xFFFF:04x}"
            if not list(Path("/run/netns").glob(f"{self.prefix}*")):
                break
            salt += 1
        self.batches: dict[str, subprocess.Popen] = {}
        self.seq = 0

    def ns(self, host: str) -> str:
        return self.prefix + host

    def bus(self) -> dict[str, str]:
        """A private system bus (dbus-daemon, started once, stopped with the lab) for
        vrrp-ha's control API; the environment that points a process at it."""
        sock = self.workdir / "bus.socket"
        if not sock.exists():
            conf = self.workdir / "bus.conf"
            conf.write_text(
                '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"\n'
                ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">\n'
                f"<busconfig><type>system</type><listen>unix:path={sock}</listen><auth>EXTERNAL</auth>\n"
                '<policy context="default"><allow user="root"/><allow own="*"/>'
                '<allow send_destination="*"/><allow receive_sender="*"/></policy></busconfig>\n'
            )
            self.spawn(None, "dbus-daemon", ["dbus-daemon", "--nofork", "--nopidfile", f"--config-file={conf}"])
            if not wait_until(sock.exists, 5, 0.02):
                raise BenchError("the private dbus-daemon did not start")
        return {"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={sock}"}

    def path(self, stem: str, ext: str) -> Path:
        self.seq += 1
        return self.workdir / f"{self.seq:03d}-{stem}.{ext}"

    def sh(self, host: str | None, argv: list[str], check: bool = True) -> str:
        full = (["ip", "netns", "exec", self.ns(host)] if host else []) + argv
        return run(full, check=check)

    def build(self) -> None:
        sw = self.ns("sw")
        self._add_ns(sw)
        self.sh("sw", ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"])
        run(["ip", "-n", sw, "link", "set", "lo", "up"])
        # No snooping: VRRP multicast must reach every port.
        run(["ip", "-n", sw, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0", "stp_state", "0", "forward_delay", "0"])
        run(["ip", "-n", sw, "link", "set", "br0", "up"])
        for h in HOSTS:
            ns = self.ns(h)
            self._add_ns(ns)
            run(["ip", "-n", sw, "link", "add", h, "type", "veth", "peer", "name", "eth0", "netns", ns])
            run(["ip", "-n", sw, "link", "set", h, "master", "br0", "up"])
            self.sh(h, ["sysctl", "-qw",
                        "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
                        "net.ipv4.ip_local_port_range=1024 65000", "net.ipv4.tcp_tw_reuse=1",
                        "net.core.somaxconn=4096",
                        # A gratuitous ARP must move the VIP at once, also within a second
                        # of the previous move (failback right after failover).
                        "net.ipv4.neigh.eth0.locktime=0"])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "-n", ns, "addr", "add", f"{ip_of(h)}/24", "dev", "eth0"])
            run(["ip", "-n", ns, "link", "set", "eth0", "up"])

    def _add_ns(self, name: str) -> None:
        run(["ip", "netns", "add", name])
        self.namespaces.append(name)

    def spawn(self, host: str | None, name: str, argv: list[str], env: dict[str, str] | None = None, clean_env: bool = False) -> Proc:
        logpath = self.path(f"{host or 'root'}-{name}", "log")
        f = open(logpath, "wb")
        full = (["ip", "netns", "exec", self.ns(host)] if host else []) + argv
        # Daemons get what systemd would give them, not this shell's environment (its
        # proxy and CA-bundle variables would reach the health checks of one daemon only
        # if that daemon passed its environment on).
        e = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"} if clean_env else dict(os.environ)
        e.update(env or {})
        # A session of its own: ^C reaches only this script, which then stops everything in order.
        p = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT, env=e, start_new_session=True)
        f.close()
        proc = Proc(f"{host} {name}", p, logpath)
        self.procs.append(proc)
        return proc

    def stop(self, p: Proc, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        """Signals the process, waits for it, then kills what is left of its tree."""
        self.stop_all([p], sig, timeout)

    def stop_all(self, ps: list[Proc], sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        """stop() of several processes at once (keepalived takes a second to stop)."""
        trees = {}
        for p in ps:
            if p.alive():
                trees[p.pid] = [(q, start_time(q)) for q in tree(p.pid)]
                try:
                    os.kill(p.pid, sig)
                except ProcessLookupError:
                    pass
        end = time.monotonic() + timeout
        for p in ps:
            if p.pid not in trees:
                continue
            try:
                p.popen.wait(max(0.0, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{p.name} ignored signal {sig} for {timeout:g} s: SIGKILL")
            # Whatever of its tree is left (the descendants it had when signalled, each
            # checked by its start time so that a reused PID is never hit).
            for q, started in reversed(trees[p.pid]):
                if q == p.pid and not p.alive():
                    continue
                if start_time(q) != started:
                    continue
                try:
                    os.kill(q, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                p.popen.wait(5)
            except subprocess.TimeoutExpired:
                pass
        for p in ps:
            if p in self.procs:
                self.procs.remove(p)

    def link(self, host: str, up: bool) -> None:
        """ip link set eth0 up/down through a running `ip -batch`, ~0.2 ms after the call."""
        b = self.batches.get(host)
        if b is None or b.poll() is not None:
            b = subprocess.Popen(["ip", "-n", self.ns(host), "-force", "-batch", "-"], stdin=subprocess.PIPE, text=True, start_new_session=True)
            self.batches[host] = b
        assert b.stdin is not None
        b.stdin.write(f"link set eth0 {'up' if up else 'down'}\n")
        b.stdin.flush()

    def addrs(self, host: str) -> list[str]:
        out = run(["ip", "-n", self.ns(host), "-4", "-o", "addr", "show", "dev", "eth0"], check=False)
        return [w.split()[3].split("/")[0] for w in out.splitlines() if "inet " in w]

    def vip_count(self, host: str, vips: set[str]) -> int:
        return len(vips.intersection(self.addrs(host)))

    def remove_stray_vips(self, vips: set[str]) -> int:
        n = 0
        for h in ("lb1", "lb2"):
            out = run(["ip", "-n", self.ns(h), "-4", "-o", "addr", "show", "dev", "eth0"], check=False)
            for line in out.splitlines():
                a = line.split()[3]
                if a.split("/")[0] in vips:
                    run(["ip", "-n", self.ns(h), "addr", "del", a, "dev", "eth0"], check=False)
                    n += 1
        return n

    def nginx(self, host: str) -> Proc:
        d = self.workdir / f"nginx-{host}"
        d.mkdir(parents=True, exist_ok=True)
        if host == "web":
            server = 'location / { return 200 "served by web\\n"; }'
            up = ""
        else:
            up = "upstream web { server 192.0.2.50:80; keepalive 32; }"
            server = (
                f"location = /health {{ access_log {d}/health.log; return 200 \"ok\\n\"; }} "
                "location / { proxy_pass http://web; proxy_http_version 1.1; "
                "proxy_set_header Connection \"\"; proxy_connect_timeout 1s; "
                f"add_header X-LB {host} always; }}"
            )
        conf = f"""worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
    {up}
    server {{ listen 80 backlog=4096; {server} }}
}}
"""
        (d / "nginx.conf").write_text(conf)
        for p in [d, *d.iterdir()]:
            os.chmod(p, 0o755)
        proc = self.spawn(host, "nginx", ["nginx", "-e", f"{d}/error.log", "-c", f"{d}/nginx.conf", "-g", "daemon off;"])
        if not wait_until(lambda: self._http_ok(host), 5, 0.05):
            raise BenchError(f"nginx on {host} did not answer: {proc.text()[-500:]}")
        return proc

    def _http_ok(self, host: str) -> bool:
        p = subprocess.run(["ip", "netns", "exec", self.ns(host), "curl", "-fs", "-o", "/dev/null", "--max-time", "0.5", f"http://{ip_of(host)}/"],
                           stdin=subprocess.DEVNULL, capture_output=True)
        return p.returncode == 0

    def cleanup(self) -> None:
        for b in self.batches.values():
            try:
                if b.stdin:
                    b.stdin.close()
                b.wait(2)
            except (OSError, subprocess.TimeoutExpired):
                b.kill()
        for p in reversed(list(self.procs)):
            self.stop(p, signal.SIGTERM, timeout=5)
        names = list(self.namespaces)
        if Path("/run/netns").exists():
            names += [p.name for p in Path("/run/netns").glob(f"{self.prefix}*") if p.name not in names]
        for ns in reversed(names):
            subprocess.run(["ip", "netns", "del", ns], stdin=subprocess.DEVNULL, capture_output=True)
        self.namespaces.clear()


class Capture:
    """tcpdump in a namespace, bounded in time; decoded after it stops."""

    def __init__(self, lab: Lab, host: str, filt: str, limit_s: float):
        self.lab = lab
        self.pcap = lab.path(f"{host}-cap", "pcap")
        self.proc = lab.spawn(host, "tcpdump", ["timeout", str(int(limit_s) + 30), "tcpdump", "-i", "eth0", "-n", "--immediate-mode", "-B", "16384", "-w", str(self.pcap), filt])
        if not wait_until(lambda: "listening on" in self.proc.text(), 5, 0.02):
            raise BenchError(f"tcpdump did not start: {self.proc.text()}")
        self.dropped = 0

    def stop(self) -> list[Pkt]:
        time.sleep(0.05)  # let the last packets reach tcpdump
        # timeout(1) passes SIGINT on; tcpdump then prints its counters.
        self.lab.stop(self.proc, signal.SIGINT, timeout=5)
        m = re.search(r"(\d+) packets? dropped by kernel", self.proc.text())
        self.dropped = int(m.group(1)) if m else 0
        return read_pcap(self.pcap)


# --------------------------------------------------------------------------------------
# Daemons


class Daemon:
    def __init__(self, lab: Lab, impl: str, host: str, conf: Vrrp, bins: dict[str, str]):
        self.lab, self.impl, self.host, self.conf = lab, impl, host, conf
        self.paths = {"stamp": str(lab.workdir / f"stamp-{host}")}
        self.stamp_log = lab.workdir / f"stamp-{host}.log"
        if impl == VH:
            text = render_kdl(conf, host, self.paths)
            self.cfg = lab.path(f"{host}", "kdl")
            self.argv = [bins[VH], "run", "--config", str(self.cfg), "--log-level", "info"]
            self.env = {"VRRP_HA_STATE_DIR": str(lab.workdir / f"state-{host}"), "NO_COLOR": "1"}
        else:
            text = render_keepalived(conf, host, self.paths)
            self.cfg = lab.path(f"{host}-keepalived", "conf")
            n = lab.seq
            pid = lambda k: str(lab.workdir / f"ka-{host}-{k}-{n}.pid")  # noqa: E731
            self.argv = [bins[KA], "--dont-fork", "--log-console", "--vrrp", "-f", str(self.cfg), "-p", pid("main"), "-r", pid("vrrp"), "-c", pid("chk")]
            self.env = {}
        self.cfg.write_text(text)
        self.proc: Proc | None = None

    def start(self) -> "Daemon":
        self.proc = self.lab.spawn(self.host, self.impl, self.argv, self.env, clean_env=True)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc:
            self.lab.stop(self.proc, sig, timeout=15)

    def control(self, verb: str, t0: float) -> None:
        """`vrrp-ha drain` or `resume` of the first instance in this host's daemon; fails the run if refused."""
        instance = f"VI_{self.conf.vrids()[0][0]}"
        argv = ["ip", "netns", "exec", self.lab.ns(self.host), "env", *(f"{k}={v}" for k, v in self.env.items()),
                self.argv[0], verb, "--daemon", self.cfg.stem, instance]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            raise BenchError(f"vrrp-ha {verb} exited {r.returncode} after {now() - t0:.3f} s: {r.stderr.strip()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def stamps(self) -> list[float]:
        try:
            return [float(l.split()[0]) for l in self.stamp_log.read_text().splitlines() if l.strip()]
        except OSError:
            return []


def stop_pair(d1: Daemon, d2: Daemon) -> None:
    d1.lab.stop_all([d.proc for d in (d1, d2) if d.proc], signal.SIGTERM, timeout=15)


def write_stamp_scripts(workdir: Path) -> None:
    for h in ("lb1", "lb2"):
        p = workdir / f"stamp-{h}"
        # bash's EPOCHREALTIME: the clock is read without forking date(1).
        p.write_text(f"#!/bin/bash\nprintf '%s %s\\n' \"$EPOCHREALTIME\" \"$*\" >> {workdir}/stamp-{h}.log\n")
        os.chmod(p, 0o755)


# --------------------------------------------------------------------------------------
# The HTTP client: a request every millisecond (runs in the client namespace)


def client_main(a: argparse.Namespace) -> int:
    """Opens a connection to the VIP every `period` (open loop, whatever the previous
    ones do) and logs `start_us end_us code` per request: code 1/2 = served via lb1/lb2,
    0 = another 200, negative = failed (-1 connect timeout, -2 connect error,
    -3 reply timeout, -4 bad reply)."""
    period = a.period_us / 1e6
    cto, tto = a.connect_ms / 1000, a.total_ms / 1000
    addr = (a.vip, 80)
    req = f"GET / HTTP/1.0\r\nHost: {a.vip}\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    sel.register(sys.stdin.fileno(), selectors.EVENT_READ, None)
    out = open(a.out, "w", buffering=1 << 16)
    inflight: dict[int, list] = {}
    order: list = []  # [start, sock, state, buf] in start order, lazily pruned
    head = 0
    end_at = time.monotonic() + a.max_s
    next_t = time.monotonic()
    last_flush = 0.0
    lingering = struct.pack("ii", 1, 0)

    def finish(rec: list, code: int) -> None:
        if rec[2] == "done":
            return
        rec[2] = "done"
        s = rec[1]
        try:
            sel.unregister(s)
        except (KeyError, ValueError):
            pass
        inflight.pop(s.fileno(), None)
        s.close()
        out.write(f"{rec[4]} {time.time_ns() // 1000} {code}\n")

    while True:
        mono = time.monotonic()
        if mono >= end_at:
            break
        while mono >= next_t:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            # RST on close: neither side keeps a TIME_WAIT entry per request.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, lingering)
            start_us = time.time_ns() // 1000
            rec = [mono, s, "connecting", b"", start_us]
            err = s.connect_ex(addr)
            order.append(rec)
            if err not in (0, 115):  # EINPROGRESS
                finish(rec, -2)
            else:
                inflight[s.fileno()] = rec
                sel.register(s, selectors.EVENT_WRITE, rec)
            next_t += period
            if mono - next_t > 0.05:
                next_t = mono + period  # a stall: do not burst to catch up
        # timeouts, oldest first
        while head < len(order):
            rec = order[head]
            age = mono - rec[0]
            if rec[2] == "done":
                head += 1
            elif rec[2] == "connecting" and age >= cto:
                finish(rec, -1)
                head += 1
            elif age >= tto:
                finish(rec, -3)
                head += 1
            elif rec[2] == "connecting":
                break
            else:
                break
        if head > 4096:
            del order[:head]
            head = 0
        timeout = max(0.0, min(next_t, end_at) - time.monotonic())
        for key, ev in sel.select(timeout):
            rec = key.data
            if rec is None:
                if not os.read(sys.stdin.fileno(), 1024):
                    end_at = 0  # stdin closed: stop
                continue
            s = rec[1]
            if rec[2] == "connecting":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    finish(rec, -2)
                    continue
                try:
                    s.send(req)
                except OSError:
                    finish(rec, -2)
                    continue
                rec[2] = "reading"
                sel.modify(s, selectors.EVENT_READ, rec)
            else:
                try:
                    chunk = s.recv(4096)
                except OSError:
                    chunk = b""
                    rec[3] = rec[3] or b"!"
                if chunk:
                    rec[3] += chunk
                    continue
                buf = rec[3]
                if buf.startswith(b"HTTP/1.1 200") or buf.startswith(b"HTTP/1.0 200"):
                    m = re.search(rb"\r\nX-LB: (lb\d)", buf)
                    finish(rec, int(m.group(1)[2:]) if m else 0)
                else:
                    finish(rec, -4)
        t = time.monotonic()
        if t - last_flush > 0.02:
            out.flush()
            last_flush = t
    for rec in order[head:]:
        if rec[2] != "done":
            finish(rec, -3)
    out.close()
    return 0


class ClientLog:
    """Follows the client's log while it runs."""

    def __init__(self, path: Path):
        self.path = path
        self.off = 0
        self.partial = ""
        self.recs: list[tuple[int, int, int]] = []
        self.last_ok = {1: 0.0, 2: 0.0}

    def poll(self) -> None:
        try:
            with open(self.path) as f:
                f.seek(self.off)
                data = f.read()
                self.off = f.tell()
        except OSError:
            return
        data = self.partial + data
        lines = data.split("\n")
        self.partial = lines.pop()
        for line in lines:
            f3 = line.split()
            if len(f3) != 3:
                continue
            r = (int(f3[0]), int(f3[1]), int(f3[2]))
            self.recs.append(r)
            if r[2] in self.last_ok:
                self.last_ok[r[2]] = max(self.last_ok[r[2]], r[0] / 1e6)

    def served_since(self, lb: int, t: float) -> bool:
        self.poll()
        return self.last_ok[lb] >= t


# --------------------------------------------------------------------------------------
# The suite


@dataclasses.dataclass
class Mode:
    name: str
    failover: list[tuple[Vrrp, int]]  # setting, trials
    sigterm: list[tuple[Vrrp, int]]
    stress_s: float
    hogs: list[int]
    losses: list[int]
    scale: list[tuple[int, int]]  # instances, interval ms
    scale_s: dict[int, float]  # interval ms -> seconds measured
    health_s: float
    health_ms: int  # advert interval of the health-check setting
    profile_s: float
    profile_at: list[tuple[int, int]]
    settle_s: float
    settle_limit_s: float = 30  # how long scale waits for all instances to settle


def modes() -> dict[str, Mode]:
    v2 = lambda: Vrrp(version=2, interval_ms=1000, hook=True)  # noqa: E731
    v3 = lambda ms: Vrrp(version=3, interval_ms=ms, hook=True)  # noqa: E731
    # The issue asks for 60 s windows everywhere; with the failover trials that does not
    # fit in 25 minutes, so the 1 s-advert scale windows and the health check take 20 s.
    full = Mode(
        "full",
        failover=[(v2(), 10), (v3(100), 20), (v3(10), 20)],
        sigterm=[(v3(100), 6)],
        stress_s=60, hogs=[4, 16], losses=[10, 30],
        scale=[(1, 100), (100, 100), (255, 100), (1, 1000), (100, 1000), (255, 1000)],
        scale_s={100: 60, 1000: 20}, health_s=20, health_ms=1000, profile_s=4, profile_at=[(1, 100), (255, 100)],
        settle_s=0.5,
    )
    quick = Mode(
        "quick",
        failover=[(v2(), 1), (v3(100), 2), (v3(10), 2)],
        sigterm=[(v3(100), 1)],
        stress_s=2.5, hogs=[4, 16], losses=[10, 30],
        scale=[(1, 100), (255, 100), (1, 1000), (255, 1000)],
        scale_s={100: 2, 1000: 2}, health_s=3, health_ms=1000, profile_s=2, profile_at=[(1, 100)],
        settle_s=0.3, settle_limit_s=8,
    )
    smoke = Mode(
        "smoke",
        failover=[(v3(10), 1)],
        sigterm=[(v3(10), 1)],
        stress_s=1.0, hogs=[], losses=[30],
        scale=[(20, 100)],
        scale_s={100: 1.0, 1000: 1.0}, health_s=2.0, health_ms=100, profile_s=0.5, profile_at=[(20, 100)],
        settle_s=0.3, settle_limit_s=8,
    )
    return {m.name: m for m in (full, quick, smoke)}


SECTIONS = ("failover", "sigterm", "drain", "stress", "loss", "rt", "scale", "health")


class Suite:
    def __init__(self, args: argparse.Namespace, mode: Mode, lab: Lab):
        self.args, self.mode, self.lab = args, mode, lab
        self.bins = {VH: args.vrrp_ha, KA: args.keepalived}
        self.rng = random.Random(args.seed)
        self.turn = 0
        self.results: dict[str, list[dict]] = {s: [] for s in SECTIONS}
        self.notes: dict[str, list[str]] = {s: [] for s in SECTIONS}
        self.section_s: dict[str, float] = {}
        self.failures = 0
        self.impls = tuple(getattr(args, "impls", ",".join(IMPLS)).split(","))

    def attempt(self, section: str, fn: Callable[..., dict], *args, **kw) -> None:
        """One run; a run that fails is reported as such and the suite goes on."""
        try:
            self.results[section].append(fn(*args, **kw))
        except (BenchError, subprocess.SubprocessError, OSError) as e:
            what = " ".join(a.label() if isinstance(a, Vrrp) else str(a) for a in args) + "".join(f" {k}={v}" for k, v in kw.items())
            msg = f"run {section} {what} FAILED: {e}"
            log(msg)
            self.notes[section].append(msg)
            self.failures += 1
            self.cleanup_vips(Vrrp(scale=True, instances=255))
            self.cleanup_vips(Vrrp())

    def order(self) -> tuple[str, ...]:
        """keepalived first in even settings, vrrp-ha first in odd ones."""
        self.turn += 1
        o = IMPLS if self.turn % 2 else IMPLS[::-1]
        return tuple(i for i in o if i in self.impls)

    def pair(self, impl: str, conf: Vrrp) -> tuple[Daemon, Daemon]:
        return Daemon(self.lab, impl, "lb1", conf, self.bins), Daemon(self.lab, impl, "lb2", conf, self.bins)

    def window(self, d1: Daemon, d2: Daemon, dur: float) -> tuple:
        """A measurement window of `dur` seconds: the machine's context and both daemons'
        usage at its start and end, and its start and end times."""
        c0 = self.ctx()
        u1, u2 = usage(d1.pid), usage(d2.pid)
        w0 = now()
        time.sleep(dur)
        w1 = now()
        v1, v2 = usage(d1.pid), usage(d2.pid)
        return c0, u1, u2, w0, w1, v1, v2, self.ctx()

    def ctx(self) -> dict:
        busy, total = machine_busy()
        return {"load1": loadavg(), "busy": busy, "total": total, "t": now()}

    @staticmethod
    def busy_pct(a: dict, b: dict) -> float:
        dt = b["total"] - a["total"]
        return 100 * (b["busy"] - a["busy"]) / dt if dt else math.nan

    def cleanup_vips(self, conf: Vrrp) -> None:
        stray = self.lab.remove_stray_vips({v.split("/")[0] for _, v in conf.vrids()})
        if stray:
            log(f"removed {stray} virtual addresses left behind")

    # ---- 1. failover and failback, link down at a random phase ----------------------

    def failover(self) -> None:
        for conf, trials in self.mode.failover:
            for impl in self.order():
                self.attempt("failover", self.failover_run, impl, conf, trials)

    def start_client(self, seconds: float) -> tuple[Proc, ClientLog, subprocess.Popen]:
        out = self.lab.path("client-requests", "log")
        out.touch()
        argv = ["ip", "netns", "exec", self.lab.ns("client"), sys.executable, str(Path(__file__).resolve()), "_client",
                "--vip", VIP, "--out", str(out), "--period-us", "1000", "--connect-ms", "50", "--total-ms", "250",
                "--max-s", str(int(seconds) + 5)]
        logpath = self.lab.path("client", "log")
        with open(logpath, "wb") as f:
            p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
        proc = Proc("client", p, logpath)
        self.lab.procs.append(proc)
        return proc, ClientLog(out), p

    def stop_client(self, proc: Proc, p: subprocess.Popen, cl: ClientLog) -> list[tuple[int, int, int]]:
        assert p.stdin is not None
        p.stdin.close()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self.lab.stop(proc)
        cl.poll()
        return cl.recs

    def converge(self, d1: Daemon, d2: Daemon, conf: Vrrp, cl: ClientLog | None) -> None:
        t0 = now()
        d1.start()
        d2.start()
        limit = conf.mdi(PRIO["lb1"]) + 10
        dead = lambda: not (d1.proc and d1.proc.alive() and d2.proc and d2.proc.alive())  # noqa: E731
        if cl is not None:
            ok = wait_until(lambda: dead() or cl.served_since(1, t0), limit, 0.01)
        else:
            vips = {v.split("/")[0] for _, v in conf.vrids()}
            ok = wait_until(lambda: dead() or self.lab.vip_count("lb1", vips) == len(vips), limit, 0.02)
        if dead():
            p = d1.proc if d1.proc and not d1.proc.alive() else d2.proc
            raise BenchError(f"{d1.impl} exited at start-up:\n{p.text()[-800:] if p else ''}")
        if not ok:
            raise BenchError(f"{d1.impl}: lb1 did not become MASTER within {limit:.1f} s:\n{d1.proc.text()[-800:] if d1.proc else ''}")
        # lb2 must have heard lb1 (two adverts) before anything is measured.
        time.sleep(max(0.2, 2 * conf.interval()))
        if self.lab.vip_count("lb2", {VIP}) and cl is not None:
            raise BenchError(f"{d1.impl}: lb2 holds the VIP next to lb1")

    def failover_run(self, impl: str, conf: Vrrp, trials: int) -> dict:
        I = conf.interval()
        mdi1, mdi2 = conf.mdi(PRIO["lb1"]), conf.mdi(PRIO["lb2"])
        log(f"failover {conf.label()} {impl}: {trials} trials")
        c0 = self.ctx()
        d1, d2 = self.pair(impl, conf)
        d2.stamp_log.unlink(missing_ok=True)
        budget = 30 + trials * (2 * max(mdi1, mdi2) + I + 3)
        cap = Capture(self.lab, "lb2", "vrrp or arp", budget)
        mon = self.lab.spawn("lb2", "ip-monitor", ["timeout", str(int(budget) + 30), "ip", "-ts", "monitor", "address"])
        proc, cl, p = self.start_client(budget)
        marks = []
        try:
            self.converge(d1, d2, conf, cl)
            for k in range(trials):
                time.sleep(self.rng.uniform(0, I))  # a random phase of lb1's advert cycle
                t_down = now()
                self.lab.link("lb1", False)
                if not wait_until(lambda: cl.served_since(2, t_down), mdi2 + 5, 0.002):
                    raise BenchError(f"{impl} trial {k}: no request served via lb2 after lb1's link went down")
                t_served = now()
                time.sleep(0.2)
                t_up = now()
                self.lab.link("lb1", True)
                if not wait_until(lambda: cl.served_since(1, t_up), mdi1 + 5, 0.005):
                    raise BenchError(f"{impl} trial {k}: lb1 did not take the VIP back")
                if not wait_until(lambda: not self.lab.vip_count("lb2", {VIP}), 3, 0.01):
                    raise BenchError(f"{impl} trial {k}: lb2 kept the VIP after lb1 took it back")
                time.sleep(0.2)
                marks.append({"down": t_down, "served": t_served, "up": t_up, "end": now()})
        finally:
            recs = self.stop_client(proc, p, cl)
            stop_pair(d1, d2)
            pkts = cap.stop()
            self.lab.stop(mon, signal.SIGTERM)
            self.cleanup_vips(conf)
        c1 = self.ctx()
        rows = [self.analyse_failover(m, recs, pkts, mon.log, d2.stamps(), conf) for m in marks]
        return {"setting": conf.label(), "impl": impl, "trials": rows, "load1": c1["load1"], "busy": self.busy_pct(c0, c1),
                "cap_dropped": cap.dropped, "mdi2": mdi2}

    @staticmethod
    def vip_adds(monlog: Path) -> list[float]:
        out = []
        try:
            text = monlog.read_text(errors="replace")
        except OSError:
            return out
        for line in text.splitlines():
            m = re.match(r"\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)\]\s+\d+:\s+eth0\s+inet " + re.escape(VIP) + "/", line)
            if m and "Deleted" not in line:
                out.append(datetime.datetime.fromisoformat(m.group(1)).timestamp())
        return out

    def analyse_failover(self, m: dict, recs, pkts: list[Pkt], monlog: Path, stamps: list[float], conf: Vrrp) -> dict:
        mdi2 = conf.mdi(PRIO["lb2"])
        ok = sorted(r[0] / 1e6 for r in recs if r[2] > 0)
        t_down, t_up, t_end = m["down"], m["up"], m["end"]
        before = [t for t in ok if t < t_down]
        after2 = [r[0] / 1e6 for r in recs if r[2] == 2 and r[0] / 1e6 >= t_down]
        s_a = before[-1] if before else math.nan
        s_b = min(after2) if after2 else math.nan
        lost = sum(1 for r in recs if r[2] < 0 and s_a <= r[0] / 1e6 <= s_b)
        fb_lost = sum(1 for r in recs if r[2] < 0 and t_up <= r[0] / 1e6 <= t_end)
        lb1_adv = [p.ts for p in pkts if p.kind == "vrrp" and p.src == ip_of("lb1") and p.vrid == FAILOVER_VRID and p.prio > 0 and t_down - 5 < p.ts < t_up]
        last_adv = max(lb1_adv) if lb1_adv else math.nan
        phase = t_down - last_adv
        deadline = last_adv + mdi2
        garp = [p.ts for p in pkts if p.kind == "arp" and p.src == VIP and p.tip == VIP and t_down < p.ts < t_up]
        adv2 = [p.ts for p in pkts if p.kind == "vrrp" and p.src == ip_of("lb2") and p.vrid == FAILOVER_VRID and t_down < p.ts < t_up]
        vip = [t for t in self.vip_adds(monlog) if t_down < t < t_up]
        hook = [t for t in stamps if t_down < t < t_up]
        first = lambda xs: (min(xs) - deadline) * 1000 if xs else math.nan  # noqa: E731
        return {
            "gap_ms": (s_b - s_a) * 1000,
            "floor_ms": (mdi2 - phase) * 1000,
            "phase_ms": phase * 1000,
            "lost": lost,
            "fb_lost": fb_lost,
            "vip_ms": first(vip),
            "garp_ms": first(garp),
            "advert_ms": first(adv2),
            "hook_ms": first(hook),
        }

    # ---- SIGTERM: the MASTER stops cleanly (priority 0, Skew_Time) ---------------------

    def sigterm(self) -> None:
        for conf, trials in self.mode.sigterm:
            for impl in self.order():
                self.attempt("sigterm", self.sigterm_run, impl, conf, trials)

    def sigterm_run(self, impl: str, conf: Vrrp, trials: int, drain: bool = False) -> dict:
        I = conf.interval()
        mdi1 = conf.mdi(PRIO["lb1"])
        skew2 = conf.skew(PRIO["lb2"])
        log(f"{'drain' if drain else 'sigterm'} {conf.label()} {impl}: {trials} trials")
        c0 = self.ctx()
        d1, d2 = self.pair(impl, conf)
        # vrrp-ha's drain and resume reach the daemon over the system bus: a private one here.
        ctl = self.lab.bus() if drain and impl == VH else None
        if ctl is not None:
            d1.env.update(ctl)
            d2.env.update(ctl)
        budget = 30 + trials * (mdi1 + 8)
        cap = Capture(self.lab, "lb2", "vrrp or arp", budget)
        proc, cl, p = self.start_client(budget)
        marks = []
        try:
            self.converge(d1, d2, conf, cl)
            for k in range(trials):
                time.sleep(self.rng.uniform(0, I))
                t_term = now()
                if ctl is not None:
                    d1.control("drain", t_term)
                else:
                    os.kill(d1.pid, signal.SIGTERM)
                if not wait_until(lambda: cl.served_since(2, t_term), 5, 0.002):
                    raise BenchError(f"{impl} sigterm trial {k}: no request served via lb2")
                if ctl is None:
                    d1.stop()
                time.sleep(0.2)
                t_start = now()
                if ctl is not None:
                    d1.control("resume", t_start)
                else:
                    d1.start()
                if not wait_until(lambda: cl.served_since(1, t_start), mdi1 + 10, 0.005):
                    raise BenchError(f"{impl} sigterm trial {k}: restarted lb1 did not take the VIP back")
                if not wait_until(lambda: not self.lab.vip_count("lb2", {VIP}), 3, 0.01):
                    raise BenchError(f"{impl} sigterm trial {k}: lb2 kept the VIP")
                time.sleep(0.2)
                marks.append({"term": t_term, "start": t_start, "end": now()})
        finally:
            recs = self.stop_client(proc, p, cl)
            stop_pair(d1, d2)
            pkts = cap.stop()
            self.cleanup_vips(conf)
        c1 = self.ctx()
        rows = []
        for m in marks:
            ok = sorted(r[0] / 1e6 for r in recs if r[2] > 0)
            before = [t for t in ok if t < m["term"]]
            after2 = [r[0] / 1e6 for r in recs if r[2] == 2 and r[0] / 1e6 >= m["term"]]
            s_a = before[-1] if before else math.nan
            s_b = min(after2) if after2 else math.nan
            zero = [q.ts for q in pkts if q.kind == "vrrp" and q.src == ip_of("lb1") and q.prio == 0 and m["term"] <= q.ts < m["start"]]
            t0 = min(zero) if zero else math.nan
            garp = [q.ts for q in pkts if q.kind == "arp" and q.src == VIP and q.tip == VIP and m["term"] < q.ts < m["start"]]
            rows.append({
                "gap_ms": (s_b - s_a) * 1000,
                "prio0_ms": (t0 - m["term"]) * 1000,
                "floor_ms": (t0 - m["term"] + skew2) * 1000,
                "garp_ms": ((min(garp) if garp else math.nan) - (t0 + skew2)) * 1000,
                "lost": sum(1 for r in recs if r[2] < 0 and s_a <= r[0] / 1e6 <= s_b),
                "fb_lost": sum(1 for r in recs if r[2] < 0 and m["start"] <= r[0] / 1e6 <= m["end"]),
            })
        return {"setting": conf.label(), "impl": impl, "trials": rows, "load1": c1["load1"], "busy": self.busy_pct(c0, c1), "skew2_ms": skew2 * 1000,
                "how": ("drain / resume" if ctl is not None else "SIGTERM / restart")}

    # ---- drain (issue 9) -------------------------------------------------------------

    def drain(self) -> None:
        # keepalived has no drain: its maintenance path is `systemctl stop`, a SIGTERM.
        for conf, trials in self.mode.sigterm:
            for impl in self.order():
                self.attempt("drain", self.sigterm_run, impl, conf, trials, drain=True)

    # ---- 2. false failovers under CPU stress and under VRRP loss -------------------------

    def stress(self) -> None:
        for n in self.mode.hogs:
            for impl in self.order():
                self.attempt("stress", self.stress_run, impl, hogs=n, loss=0)

    def loss(self) -> None:
        for p in self.mode.losses:
            for impl in self.order():
                self.attempt("loss", self.stress_run, impl, hogs=0, loss=p)

    def rt(self) -> None:
        if not self.mode.hogs:
            return
        # Both real-time, then neither (vrrp-ha without its default): the option's effect.
        for rt in (True, False):
            for impl in self.order():
                self.attempt("rt", self.stress_run, impl, hogs=max(self.mode.hogs), loss=0, rt=rt, no_rt=not rt)

    def stress_run(self, impl: str, hogs: int, loss: int, rt: bool = False, no_rt: bool = False) -> dict:
        conf = Vrrp(version=3, interval_ms=10, rt=rt, no_rt=no_rt)
        label = (f"{hogs} busy loops" if hogs else f"{loss} % loss") + (", both real-time" if rt else "") + (", neither real-time" if no_rt else "")
        dur = self.mode.stress_s
        log(f"stress {label} {impl}: {dur:g} s")
        d1, d2 = self.pair(impl, conf)
        cap = Capture(self.lab, "lb2", "vrrp", dur + 30)
        hog_procs: list[Proc] = []
        nft = self.lab.workdir / "loss.nft"
        try:
            self.converge(d1, d2, conf, None)
            if loss:
                nft.write_text(
                    "table bridge vhbnloss {\n  chain drop_vrrp {\n    type filter hook forward priority 0; policy accept;\n"
                    f'    oifname "lb2" ip protocol vrrp numgen random mod 100 < {loss} counter drop\n  }}\n}}\n'
                )
                self.lab.sh("sw", ["nft", "-f", str(nft)])
            t_rule = now()
            for _ in range(hogs):
                hog_procs.append(self.lab.spawn(None, "hog", ["timeout", str(int(dur) + 10), "sh", "-c", "while :; do :; done"]))
            c0, u1, u2, w0, w1, v1, v2, c1 = self.window(d1, d2, dur)
            dropped = 0
            if loss:
                m = re.search(r"counter packets (\d+)", self.lab.sh("sw", ["nft", "list", "table", "bridge", "vhbnloss"]))
                dropped = int(m.group(1)) if m else 0
        finally:
            for h in hog_procs:
                self.lab.stop(h)
            if loss:
                self.lab.sh("sw", ["nft", "delete", "table", "bridge", "vhbnloss"], check=False)
            stop_pair(d1, d2)
            pkts = cap.stop()
            self.cleanup_vips(conf)
        I, mdi2 = conf.interval(), conf.mdi(PRIO["lb2"])
        vr = [q for q in pkts if q.kind == "vrrp" and q.vrid == FAILOVER_VRID and w0 <= q.ts <= w1]
        a1 = [q.ts for q in vr if q.src == ip_of("lb1")]
        gaps = [b - a for a, b in zip(a1, a1[1:])]
        episodes, backup_early = self.episodes(vr, mdi2, I)
        catch_up = self.catch_up(a1, I)
        due = (w1 - w0) / I
        p = loss / 100
        # The rule counts from its installation on; scale its drops to the window.
        span = w1 - t_rule if loss else 0
        sent = len(a1) + dropped * (w1 - w0) / span if span else len(a1)
        q = 1 - len(a1) / sent if sent else 0.0
        return {
            "setting": label, "impl": impl, "load1": c1["load1"], "busy": self.busy_pct(c0, c1),
            "takeovers": episodes, "backup_early": backup_early, "catch_up": catch_up,
            "received": len(a1), "due": due, "max_gap_ms": max(gaps) * 1000 if gaps else math.nan,
            "gaps_over_mdi": sum(1 for g in gaps if g > mdi2),
            "predicted": sent * (1 - q) * q**3, "sent": sent, "measured_loss": q, "configured_loss": p,
            "cpu1": cpu_between(u1, v1), "cpu2": cpu_between(u2, v2), "cap_dropped": cap.dropped,
        }

    @staticmethod
    def episodes(vr: list[Pkt], mdi2: float, interval: float) -> tuple[int, int]:
        """Takeovers by lb2 on the wire. One starts with an lb2 advert that follows an lb1
        advert and comes more than two intervals after lb2's previous one (closer, lb2 was
        still MASTER and had not yet processed lb1's advert: the same takeover). Also
        counts the takeovers the wire did not justify: an lb1 advert had reached lb2 less
        than MDI before (and more than 2 ms before, so not racing with lb2's timer), so
        lb2 had an advert it had not processed in time."""
        n = unjustified = 0
        heard_lb1 = True
        lb1: list[float] = []
        last_lb2 = -math.inf
        for q in vr:
            if q.src == ip_of("lb1") and q.prio > 0:
                heard_lb1 = True
                lb1.append(q.ts)
            elif q.src == ip_of("lb2"):
                if heard_lb1 and q.ts - last_lb2 > 2 * interval:
                    n += 1
                    # lb1's last advert before lb2 fired: adverts that arrived in the last
                    # 2 ms raced with lb2's timer (a burst of catch-up adverts often does)
                    # and do not count against it.
                    before = [t for t in lb1[-64:] if t < q.ts - 0.002]
                    if before and q.ts - before[-1] < mdi2:
                        unjustified += 1
                heard_lb1 = False
                last_lb2 = q.ts
        return n, unjustified

    @staticmethod
    def catch_up(ts: list[float], interval: float) -> int:
        """Adverts sent less than a tenth of an interval after the previous one of the
        same router: a MASTER catching up on adverts it missed while it did not run."""
        return sum(1 for a, b in zip(ts, ts[1:]) if b - a < interval / 10)

    # ---- 3. cost and stability at 1, 100, 255 instances ---------------------------------

    def scale(self) -> None:
        for n, ms in self.mode.scale:
            for impl in self.order():
                self.attempt("scale", self.scale_run, impl, n, ms)

    def syscalls(self, d: Daemon, seconds: float) -> tuple[str, dict[str, int]]:
        """System calls of the daemon's tree for `seconds`: `perf trace -s` (tracepoints,
        light enough not to slow a MASTER of 255 instances into flapping), else
        `strace -c -f` (ptrace, which does)."""
        pids = tree(d.pid)
        out = self.lab.path(f"syscalls-{d.impl}", "txt")
        if shutil.which("perf") and subprocess.run(["perf", "trace", "-s", "--", "true"], capture_output=True).returncode == 0:
            tool = "perf trace -s"
            argv = ["perf", "trace", "-s", "-o", str(out), "-p", ",".join(map(str, pids)), "--", "sleep", str(seconds)]
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        else:
            tool = "strace -c -f"
            argv = ["strace", "-c", "-f", "-o", str(out)]
            for pid in pids:
                argv += ["-p", str(pid)]
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            time.sleep(seconds)
            p.send_signal(signal.SIGINT)
        try:
            p.wait(seconds + 10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        calls: dict[str, int] = {}
        try:
            for line in out.read_text().splitlines():
                f = line.split()
                if tool.startswith("perf"):
                    # syscall calls errors total min avg max stddev
                    if len(f) == 8 and f[1].isdigit() and f[0].isidentifier():
                        calls[f[0]] = calls.get(f[0], 0) + int(f[1])
                elif len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
                    # % time, seconds, usecs/call, calls, [errors], syscall
                    calls[f[-1]] = calls.get(f[-1], 0) + int(f[3])
        except (OSError, ValueError):
            pass
        return tool, calls

    def scale_run(self, impl: str, n: int, ms: int) -> dict:
        conf = scale_conf(n, ms)
        dur = self.mode.scale_s[ms]
        vips = {v.split("/")[0] for _, v in conf.vrids()}
        log(f"scale {n} x {ms} ms {impl}: {dur:g} s")
        d1, d2 = self.pair(impl, conf)
        cap = Capture(self.lab, "client", "vrrp", dur + 120)
        prof: dict = {}
        try:
            # lb1 starts alone and takes every instance; then lb2 starts next to it, as a
            # restarted BACKUP does, and must take none.
            t0 = now()
            d1.start()
            limit = conf.mdi(PRIO["lb1"]) + self.mode.settle_limit_s
            if not wait_until(lambda: not d1.proc.alive() or self.lab.vip_count("lb1", vips) == n, limit, 0.05):
                raise BenchError(f"{impl}: lb1 alone did not take all {n} instances within {limit:.0f} s ({self.lab.vip_count('lb1', vips)})")
            if not d1.proc.alive():
                raise BenchError(f"{impl} exited at start-up:\n{d1.proc.text()[-800:]}")
            t_poll = now()
            t_lb2 = now()
            d2.start()
            # Settled once lb1 has held every VIP, and lb2 none, for longer than lb2's first
            # master-down timer can run (and again after any takeover).
            hold = max(1.0, conf.mdi(PRIO["lb2"]) + conf.interval())
            settled = holds(lambda: self.lab.vip_count("lb1", vips) == n and self.lab.vip_count("lb2", vips) == 0, hold, self.mode.settle_limit_s)
            if not settled:
                # A pair that never settles is a result, not a failure of the suite.
                msg = f"{n} x {ms} ms {impl}: not settled {self.mode.settle_limit_s:g} s after lb2 started (VIPs on lb1 {self.lab.vip_count('lb1', vips)}, on lb2 {self.lab.vip_count('lb2', vips)}); measured anyway"
                log(msg)
                self.notes["scale"].append(msg)
            time.sleep(self.mode.settle_s)
            c0, u1, u2, w0, w1, v1, v2, c1 = self.window(d1, d2, dur)
            if (n, ms) in self.mode.profile_at and self.mode.profile_s > 0:
                p0 = now()
                tool, calls = self.syscalls(d1, self.mode.profile_s)
                prof = {"calls": calls, "tool": tool, "t0": p0, "t1": now()}
        finally:
            stop_pair(d1, d2)
            pkts = cap.stop()
            self.cleanup_vips(conf)
        I = conf.interval()
        by: dict[int, list[Pkt]] = {}
        for q in pkts:
            if q.kind == "vrrp":
                by.setdefault(q.vrid, []).append(q)
        settled_at, sent, max_gap, takeovers, transients = [], 0, 0.0, 0, 0
        lb2_settled = 0.0
        catch_up = 0
        for vrid, _ in conf.vrids():
            qs = by.get(vrid, [])
            f1 = [q.ts for q in qs if q.src == ip_of("lb1")]
            settled_at.append(min(f1) if f1 else math.inf)
            transients += self.episodes([q for q in qs if t_lb2 <= q.ts < w0], conf.mdi(PRIO["lb2"]), I)[0]
            last2 = [q.ts for q in qs if q.src == ip_of("lb2") and t_lb2 <= q.ts < w0]
            if last2:
                lb2_settled = max(lb2_settled, last2[-1] - t_lb2)
            win = [q.ts for q in qs if q.src == ip_of("lb1") and w0 <= q.ts <= w1]
            sent += len(win)
            catch_up += self.catch_up(win, I)
            edge = [q.ts for q in qs if q.src == ip_of("lb1") and w0 - 2 * I <= q.ts <= w1]
            gaps = [b - a for a, b in zip(edge, edge[1:])]
            if gaps:
                max_gap = max(max_gap, max(gaps))
            elif not win:
                max_gap = math.inf
            takeovers += self.episodes([q for q in qs if w0 <= q.ts <= w1], conf.mdi(PRIO["lb2"]), I)[0]
        settle_s = max(settled_at) - t0
        res = {
            "setting": f"{n} x {ms} ms", "n": n, "ms": ms, "impl": impl, "load1": c1["load1"], "busy": self.busy_pct(c0, c1),
            "settle_s": settle_s, "settle_poll_s": t_poll - t0, "startup_takeovers": transients, "settled": settled, "lb2_settle_s": lb2_settled,
            "sent": sent, "catch_up": catch_up, "due": n * (w1 - w0) / I, "max_gap_ms": max_gap * 1000, "takeovers": takeovers,
            "cpu1": cpu_between(u1, v1), "cpu2": cpu_between(u2, v2),
            "hwm1_kb": v1.hwm_kb, "hwm2_kb": v2.hwm_kb, "pss1_kb": v1.pss_kb, "pss2_kb": v2.pss_kb,
            "procs1": v1.procs, "cap_dropped": cap.dropped,
        }
        if prof:
            adv = sum(1 for q in pkts if q.kind == "vrrp" and q.src == ip_of("lb1") and prof["t0"] <= q.ts <= prof["t1"])
            res["strace"] = {"calls": prof["calls"], "tool": prof["tool"], "adverts": adv, "seconds": prof["t1"] - prof["t0"]}
        return res

    # ---- 5. health-check cost ------------------------------------------------------------

    def health(self) -> None:
        for impl in self.order():
            self.attempt("health", self.health_run, impl)

    def health_run(self, impl: str) -> dict:
        conf = Vrrp(version=3, interval_ms=self.mode.health_ms, track=True)
        dur = self.mode.health_s
        log(f"health check {impl}: {dur:g} s")
        d1, d2 = self.pair(impl, conf)
        hlog = self.lab.workdir / "nginx-lb1" / "health.log"
        count = lambda: len(hlog.read_text().splitlines()) if hlog.exists() else 0  # noqa: E731
        try:
            self.converge(d1, d2, conf, None)
            # The checks run from start-up on; measure whole check periods.
            c0 = self.ctx()
            h0, u0 = count(), usage(d1.pid)
            w0 = now()
            time.sleep(dur)
            h1, u1 = count(), usage(d1.pid)
            c1 = self.ctx()
        finally:
            stop_pair(d1, d2)
            self.cleanup_vips(conf)
        return {"setting": "1 check at 1 s", "impl": impl, "advert_ms": self.mode.health_ms, "load1": c1["load1"], "busy": self.busy_pct(c0, c1),
                "checks": h1 - h0, "cpu": cpu_between(u0, u1), "wall": now() - w0}


# --------------------------------------------------------------------------------------
# Tables


def fmt(x: float, digits: int = 1) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, float) and math.isinf(x):
        return "∞"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}f}"


def ratio(vh: float, ka: float) -> str:
    try:
        if ka is None or vh is None or math.isnan(ka) or math.isnan(vh):
            return "–"
        if ka == 0:
            return "=" if vh == 0 else "∞"
        return f"{vh / ka:.2f}"
    except TypeError:
        return "–"


def table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def by_impl(results: list[dict]) -> dict[str, dict[str, dict]]:
    """setting -> impl -> result, in the order the settings ran."""
    out: dict[str, dict[str, dict]] = {}
    for r in results:
        out.setdefault(r["setting"], {})[r["impl"]] = r
    return out


HEAD = ["setting", "measure", "keepalived", "vrrp-ha", "vrrp-ha / keepalived"]


# Measures that are context, not a score (no side "loses" them).
NEUTRAL = ("trials", "floor", "checks run", "loss model", "measured loss", "phase", "SIGTERM ->")


class Behind:
    """The rows of the tables where vrrp-ha did worse than keepalived, for the summary."""

    section = ""
    rows: list[str] = []


def behind(setting: str, name: str, a: float, b: float, d: int) -> None:
    # "per instance" and "per advert" rows repeat the CPU row's ratio.
    if any(w in name for w in NEUTRAL + ("per instance", "per advert sent")) or math.isnan(a) or math.isnan(b):
        return
    if "sent / due" in name:
        worse = abs(1 - b) > abs(1 - a) + 0.001
    else:
        # Lower is better; ignore differences below the table's last digit.
        worse = b > a * 1.1 and b - a >= 10**-d
    if worse:
        Behind.rows.append(f"{Behind.section}, {setting}: {name.strip()}: keepalived {fmt(a, d)}, vrrp-ha {fmt(b, d)} ({ratio(b, a)})")


def stat_rows(setting: str, ka: dict | None, vh: dict | None, metrics: list[tuple[str, Callable[[dict], float], int]]) -> list[list[str]]:
    rows = []
    label = setting
    for name, f, d in metrics:
        a = f(ka) if ka else math.nan
        b = f(vh) if vh else math.nan
        rows.append([setting, name, fmt(a, d), fmt(b, d), ratio(b, a)])
        behind(label, name, a, b, d)
        setting = ""
    return rows


def trial_stat(key: str, q: float) -> Callable[[dict], float]:
    return lambda r: pct([t[key] for t in r["trials"] if not math.isnan(t[key])], q)


def trial_max(key: str) -> Callable[[dict], float]:
    return lambda r: max((t[key] for t in r["trials"] if not math.isnan(t[key])), default=math.nan)


def ctx_row(setting: str, ka: dict | None, vh: dict | None) -> list[str]:
    g = lambda r: f"{r['load1']:.2f} / {r['busy']:.0f} %" if r else "–"  # noqa: E731
    return [setting, "load average 1 min (at the end) / machine busy", g(ka), g(vh), ""]


def report(s: Suite) -> str:
    parts: list[str] = []
    R = s.results
    Behind.rows = []

    Behind.section = "1. failover"
    if R["failover"] or s.notes["failover"]:
        rows = []
        for setting, d in by_impl(R["failover"]).items():
            ka, vh = d.get(KA), d.get(VH)
            rows += stat_rows(setting, ka, vh, [
                ("trials", lambda r: len(r["trials"]), 0),
                ("gap median (ms)", trial_stat("gap_ms", 0.5), 1),
                ("gap p95 (ms)", trial_stat("gap_ms", 0.95), 1),
                ("gap max (ms)", trial_max("gap_ms"), 1),
                ("protocol floor median (ms)", trial_stat("floor_ms", 0.5), 1),
                ("gap - floor median (ms)", lambda r: pct([t["gap_ms"] - t["floor_ms"] for t in r["trials"]], 0.5), 1),
                ("gap - floor p95 (ms)", lambda r: pct([t["gap_ms"] - t["floor_ms"] for t in r["trials"]], 0.95), 1),
                ("requests lost, median", trial_stat("lost", 0.5), 0),
                ("failback: requests lost, median", trial_stat("fb_lost", 0.5), 0),
                ("failback: requests lost, max", trial_max("fb_lost"), 0),
            ])
            rows.append(ctx_row("", ka, vh))
        parts.append("## 1. Failover gap: lb1's link down at a random phase\n\n"
                     "A request every millisecond from the client to the VIP (50 ms connect timeout); the gap is "
                     "the longest run without a successful response (start to start). The protocol floor is "
                     "lb2's Master_Down_Interval minus the phase (time from lb1's last advert on the wire to "
                     "the link going down). Failback: lb1's link comes back and it preempts; requests that "
                     "failed until it was served via lb1 again.\n\n" + table(HEAD, rows))

    # SIGTERM and drain: the same hand-over, started by a signal or by the operator's command.
    for sec, behind_as, cmd, back, title in (
        ("sigterm", "1b. SIGTERM", "SIGTERM", "restart failback",
         "## 1b. SIGTERM of the MASTER (priority 0, Skew_Time), then restart\n\n"
         "The floor is the time to lb1's priority-0 advert plus lb2's Skew_Time.\n\n"),
        ("drain", "1c. drain", "command", "back in service",
         "## 1c. Maintenance: taking lb1 out of service and back\n\n"
         "vrrp-ha: `vrrp-ha drain`, then `vrrp-ha resume` (over a private system bus; lb1, MASTER since "
         "it started, never heard its silent backup, so it keeps the VIP until lb2's advert); "
         "keepalived has no drain, so its path is `systemctl stop` (a SIGTERM), then a start. "
         "The command's time includes starting the `vrrp-ha` client. The floor is the time to "
         "lb1's priority-0 advert plus lb2's Skew_Time.\n\n"),
    ):
        Behind.section = behind_as
        if not R[sec]:
            continue
        rows = []
        for setting, d in by_impl(R[sec]).items():
            ka, vh = d.get(KA), d.get(VH)
            rows += stat_rows(setting, ka, vh, [
                ("trials", lambda r: len(r["trials"]), 0),
                ("gap median (ms)", trial_stat("gap_ms", 0.5), 1),
                ("gap p95 (ms)", trial_stat("gap_ms", 0.95), 1),
                ("gap max (ms)", trial_max("gap_ms"), 1),
                (f"{cmd} -> priority 0 advert, median (ms)", trial_stat("prio0_ms", 0.5), 2),
                ("protocol floor median (ms)", trial_stat("floor_ms", 0.5), 1),
                ("requests lost, median", trial_stat("lost", 0.5), 0),
                (f"{back}: requests lost, median", trial_stat("fb_lost", 0.5), 0),
            ])
            rows.append(ctx_row("", ka, vh))
        parts.append(title + table(HEAD, rows))
    if s.notes["drain"]:
        parts.append("\n".join(f"- {n}" for n in s.notes["drain"]))

    lat = {KA: [], VH: []}
    for r in R["failover"]:
        lat[r["impl"]] += r["trials"]
    Behind.section = "4. transition latency"
    if lat[KA] or lat[VH]:
        rows = []
        for key, name in (("vip_ms", "VIP installed"), ("garp_ms", "first gratuitous ARP"), ("advert_ms", "first advert"), ("hook_ms", "on-master exec hook ran")):
            for q, qn in ((0.5, "median"), (0.95, "p95"), (0.99, "p99")):
                a = pct([t[key] for t in lat[KA] if not math.isnan(t[key])], q)
                b = pct([t[key] for t in lat[VH] if not math.isnan(t[key])], q)
                rows.append([name if qn == "median" else "", f"{qn} (ms)", fmt(a, 2), fmt(b, 2), ratio(b, a)])
                behind(name, f"{qn} (ms)", a, b, 2)
        parts.append("## 4. Transition latency: from lb2's master-down deadline\n\n"
                     "Over all failover trials above. The deadline is lb1's last advert on lb2's wire "
                     "(capture timestamp) plus lb2's Master_Down_Interval; VIP installed is when "
                     "`ip monitor` in lb2's namespace saw the address; the hook is a bash script that "
                     "stamps `$EPOCHREALTIME` (keepalived `notify_master`, vrrp-ha `on-master { exec }`). "
                     "vrrp-ha's `reload \"nginx.service\"` needs systemd, which the namespaces do not have: "
                     "the exec hook stands in for it. Negative values mean the daemon acted before the RFC "
                     "deadline.\n\n" + table(["event", "statistic", "keepalived", "vrrp-ha", "vrrp-ha / keepalived"], rows))

    for sec, title, blurb in (
        ("stress", "2. False failovers under CPU stress (VRRPv3, 10 ms adverts)",
         "N busy-looping processes (`while :; do :; done`) on the 2 cores for the whole window. Takeovers "
         "are counted on lb2's wire: each run of lb2 adverts after it heard lb1. A takeover the wire did not "
         "justify is one where an lb1 advert had reached lb2 less than Master_Down_Interval (and more than "
         "2 ms) before lb2's first advert: lb2 had it but did not process it in time; the others follow a "
         "gap above MDI in lb1's adverts (the MASTER did not run in time). Catch-up adverts are sent in a burst after a MASTER "
         "was held off the CPU: they count as sent but do nothing for the gap. Each daemon runs with its "
         "defaults: vrrp-ha's event loop is SCHED_RR at priority 10 (`realtime-priority`), keepalived "
         "has no real-time priority unless `vrrp_rt_priority` is set (table 2c)."),
        ("rt", "2c. False failovers under CPU stress, both real-time and neither (VRRPv3, 10 ms adverts)",
         "As table 2 with the most busy loops. Both real-time: the options an operator of a loaded "
         "box would set, keepalived `vrrp_rt_priority 50` and `vrrp_no_swap`, vrrp-ha "
         "`realtime-priority 50` and `lock-memory #true`. Neither: keepalived's default, and vrrp-ha "
         "with `realtime-priority 0` (its default is 10): what the option is worth."),
        ("loss", "2b. False failovers under random VRRP loss (VRRPv3, 10 ms adverts)",
         "nftables `numgen random` on the bridge drops that share of the VRRP packets sent to lb2. "
         "The loss model predicts a takeover for every run of three or more consecutive lost adverts: "
         "adverts sent x (1 - p) x p^3, with p the loss measured by the rule's counter; the capture count is the number of gaps above Master_Down_Interval "
         "between lb1's adverts that reached lb2 (an RFC-correct BACKUP takes over at each)."),
    ):
        Behind.section = title.split(" (")[0]
        if not R[sec]:
            continue
        rows = []
        for setting, d in by_impl(R[sec]).items():
            ka, vh = d.get(KA), d.get(VH)
            m = [
                ("takeovers by the BACKUP", lambda r: r["takeovers"], 0),
                ("  of which the wire did not justify", lambda r: r["backup_early"], 0),
                ("lb1 advert gaps > MDI on lb2's wire", lambda r: r["gaps_over_mdi"], 0),
                ("largest lb1 advert gap (ms)", lambda r: r["max_gap_ms"], 1),
                ("lb1 adverts sent / due", lambda r: r["sent"] / r["due"], 4),
                ("  of which catch-up (< 1/10 interval after the previous)", lambda r: r.get("catch_up", math.nan), 0),
            ]
            if sec == "loss":
                m.insert(3, ("loss model prediction", lambda r: r["predicted"], 1))
                m.insert(4, ("measured loss (%)", lambda r: 100 * r["measured_loss"], 1))
            m.append(("MASTER CPU (% of a core)", lambda r: 100 * (r["cpu1"]["own_s"] + r["cpu1"]["reaped_s"]) / r["cpu1"]["wall_s"], 2))
            rows += stat_rows(setting, ka, vh, m)
            rows.append(ctx_row("", ka, vh))
        parts.append(f"## {title}\n\n{blurb}\n\n" + table(HEAD, rows))
    if s.notes["rt"]:
        parts.append("Real-time runs:\n\n" + "\n".join(f"- {n}" for n in s.notes["rt"]))

    Behind.section = "3. scale"
    if R["scale"]:
        rows = []
        for setting, d in by_impl(R["scale"]).items():
            ka, vh = d.get(KA), d.get(VH)
            cpu = lambda k: lambda r: 100 * (r[k]["own_s"] + r[k]["reaped_s"]) / r[k]["wall_s"]  # noqa: E731
            per = lambda k: lambda r: 1e6 * (r[k]["own_s"] + r[k]["reaped_s"]) / r[k]["wall_s"] / r["n"]  # noqa: E731
            rows += stat_rows(setting, ka, vh, [
                ("MASTER CPU (% of a core)", cpu("cpu1"), 3),
                ("MASTER CPU per instance (µs per s)", per("cpu1"), 1),
                ("MASTER CPU per advert sent (µs)", lambda r: 1e6 * r["cpu1"]["own_s"] / r["sent"] if r["sent"] else math.nan, 1),
                ("BACKUP CPU (% of a core)", cpu("cpu2"), 3),
                ("BACKUP CPU per instance (µs per s)", per("cpu2"), 1),
                ("MASTER times on a CPU per advert (wake-ups, preemptions)", lambda r: r["cpu1"]["runs"] / r["sent"] if r["sent"] else math.nan, 2),
                ("MASTER peak RSS, process tree (MiB)", lambda r: r["hwm1_kb"] / 1024, 1),
                ("MASTER PSS, process tree (MiB)", lambda r: r["pss1_kb"] / 1024, 1),
                ("BACKUP peak RSS, process tree (MiB)", lambda r: r["hwm2_kb"] / 1024, 1),
                ("adverts sent / due", lambda r: r["sent"] / r["due"], 4),
                ("  of which catch-up (< 1/10 interval after the previous)", lambda r: r.get("catch_up", math.nan), 0),
                ("largest advert gap (ms)", lambda r: r["max_gap_ms"], 1),
                ("takeovers by the BACKUP", lambda r: r["takeovers"], 0),
                ("start to all MASTER, lb1 alone (s)", lambda r: r["settle_s"], 2),
                ("takeovers by the BACKUP starting next to it", lambda r: r["startup_takeovers"], 0),
                ("BACKUP start to its last takeover (s)", lambda r: r.get("lb2_settle_s", math.nan), 2),
            ])
            rows.append(ctx_row("", ka, vh))
            flapping = [r["impl"] for r in (ka, vh) if r and r["takeovers"]]
            if flapping:
                rows.append(["", f"**CPU not comparable: {', '.join(flapping)} flapped (elections cost CPU)**", "", "", ""])
        parts.append("## 3. Cost and stability at scale (VRRPv3, one interface)\n\n"
                     "lb1 (priority 100) starts alone and takes every instance (each starts as BACKUP, so "
                     "this is Master_Down_Interval plus the daemon's own start-up); then lb2 (priority 90) "
                     "starts next to it, as a restarted BACKUP does, and must take none; the window starts "
                     "once lb2 has been up for its Master_Down_Interval. CPU is the whole "
                     "process tree's run time (per-thread schedstat, plus reaped children) over the window; "
                     "times on a CPU count each time one of the tree's threads was scheduled in. On veth the "
                     "sender's CPU time includes the delivery of its adverts to the other namespaces (bridge, "
                     "the BACKUP's socket, the capture), the same for both daemons. Peak RSS is the sum of "
                     "VmHWM over the tree (keepalived's parent and VRRP child share pages, so this counts "
                     "them twice; PSS does not). Adverts and gaps come from a capture on the client.\n\n"
                     + table(HEAD, rows))
        prof = [r for r in R["scale"] if "strace" in r]
        if prof:
            rows = []
            for setting, d in by_impl(prof).items():
                for impl in IMPLS:
                    r = d.get(impl)
                    if not r:
                        continue
                    st = r["strace"]
                    # Both daemons send each advert with one sendmsg: count adverts by it
                    # (the capture's count would include the tracer's own start and stop).
                    adv = st["calls"].get("sendmsg") or st["adverts"] or math.nan
                    total = sum(st["calls"].values())
                    top = sorted(st["calls"].items(), key=lambda kv: -kv[1])[:7]
                    rows.append([setting, impl, fmt(total / adv, 2), ", ".join(f"{k} {v / adv:.2f}" for k, v in top)])
            tools = sorted({r["strace"].get("tool", "strace -c -f") for r in prof})
            parts.append(f"### System calls per advert sent (MASTER, {', '.join(tools)}, after the window)\n\n"
                         + table(["setting", "daemon", "syscalls per advert", "top syscalls per advert"], rows))

    Behind.section = "5. health check"
    if R["health"]:
        rows = []
        d = by_impl(R["health"]).get("1 check at 1 s", {})
        ka, vh = d.get(KA), d.get(VH)
        rows += stat_rows("1 check at 1 s", ka, vh, [
            ("checks run", lambda r: r["checks"], 0),
            ("CPU per check, whole tree (ms)", lambda r: 1000 * (r["cpu"]["own_s"] + r["cpu"]["reaped_s"]) / r["checks"] if r["checks"] else math.nan, 2),
            ("  of which the daemon (ms)", lambda r: 1000 * r["cpu"]["own_s"] / r["checks"] if r["checks"] else math.nan, 2),
            ("  of which the check's processes (ms)", lambda r: 1000 * r["cpu"]["reaped_s"] / r["checks"] if r["checks"] else math.nan, 2),
        ])
        rows.append(ctx_row("", ka, vh))
        parts.append("## 5. Health-check cost\n\n"
                     "One tracked check of lb1's own nginx (`curl` of /health, 1 s interval), VRRPv3 1 s adverts; "
                     "checks counted in nginx's access log. The daemon's share includes its idle advert cost "
                     "(see table 3, 1 x 1000 ms); the check's processes are counted when reaped (10 ms ticks).\n\n"
                     + table(HEAD, rows))
    if Behind.rows:
        parts.insert(0, "## Where vrrp-ha is behind keepalived in this run\n\n"
                     "Every row below where vrrp-ha is more than 10 % worse (lower is better except adverts "
                     "sent / due, where closer to 1 is; context rows such as trials and floors left out). "
                     "Single runs on a shared machine: read CPU rows next to the load shown in their table.\n\n"
                     + "\n".join(f"- {r}" for r in Behind.rows))
    other = [(sec, n) for sec in SECTIONS if sec not in ("drain", "rt") for n in s.notes[sec]]
    if other:
        parts.append("## Notes\n\n" + "\n".join(f"- {sec}: {n}" for sec, n in other))
    return "\n\n".join(parts) + "\n"


def tmpfs_dir() -> Path:
    """/run when it is a tmpfs (as on Debian), else /dev/shm: the daemons' state files,
    logs and hook stamps must not wait on a disk other programs are busy with."""
    fstype = {}
    for line in Path("/proc/mounts").read_text().splitlines():
        f = line.split()
        if len(f) > 2:
            fstype[f[1]] = f[2]
    for d in ("/run", "/dev/shm"):
        if fstype.get(d) == "tmpfs":
            return Path(d)
    return Path("/run")


def machine() -> dict:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    return {"cores": os.cpu_count(), "cpu": cpu, "kernel": os.uname().release, "mem_mib": mem}


def git_commit() -> str:
    try:
        c = run(["git", "-C", str(ROOT), "rev-parse", "HEAD"]).strip()
        dirty = run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"]).strip()
        return c + (" (with uncommitted changes)" if dirty else "")
    except (BenchError, OSError, subprocess.TimeoutExpired):
        return "unknown"


def versions(bins: dict[str, str]) -> dict[str, str]:
    out = {}
    for impl, argv in ((KA, [bins[KA], "--version"]), (VH, [bins[VH], "--version"])):
        p = subprocess.run(argv, capture_output=True, text=True)
        out[impl] = (p.stdout + p.stderr).strip().splitlines()[0] if (p.stdout + p.stderr).strip() else "?"
    return out


def plan(m: Mode) -> str:
    """The mode's trials and windows, in words."""
    fo = ", ".join(f"{c.label()} {n}" for c, n in m.failover)
    st = ", ".join(f"{c.label()} {n}" for c, n in m.sigterm) or "none"
    sc = ", ".join(f"{ms} ms {m.scale_s[ms]:g} s" for ms in sorted({ms for _, ms in m.scale}))
    return (f"trials per daemon: failover {fo}; SIGTERM {st}. Windows: stress and loss {m.stress_s:g} s, "
            f"scale {sc}, health check {m.health_s:g} s, strace {m.profile_s:g} s")


def document(s: Suite, body: str, meta: dict) -> str:
    m = meta["machine"]
    head = f"""# Benchmarks: vrrp-ha against keepalived

Generated by `{meta['command']}` (benches/bench.py) from a real run; do not edit by hand
(the findings at the end come from benches/findings.md).

- date: {meta['date']}
- commit: {meta['commit']}
- machine: {m['cores']} cores ({m['cpu']}), {m['mem_mib']} MiB, kernel {m['kernel']}
- daemons: {meta['versions'][KA]}; {meta['versions'][VH]} (release build)
- run: {meta['mode']} mode, {meta['minutes']:.1f} minutes; load average {meta['load_start']} at the start, {meta['load_end']} at the end; configs, logs, state files and captures in {meta.get('workdir', '/run')}
- sections: {', '.join(f'{k} {v / 60:.1f} min' for k, v in meta['sections'].items())}
- {meta.get('plan') or plan(s.mode)}

The two daemons run alternately, one setting at a time (keepalived first in one setting,
vrrp-ha first in the next), on the same lab: client -> VIP -> nginx on lb1/lb2 -> web, in
network namespaces on one bridge. Equivalent configurations: lb1 priority 100, lb2
priority 90, both starting as BACKUP, preemption on, 5 gratuitous ARPs on becoming MASTER
and a second burst 5 s later, VRRPv2 with PASS authentication. Ratios are vrrp-ha /
keepalived (below 1: vrrp-ha is faster or cheaper). The machine is shared: the load
average and the machine's busy share (all cores, all processes, including this suite's
own load generators) are shown next to each setting.

"""
    findings = ROOT / "benches" / "findings.md"
    tail = ("\n" + findings.read_text()) if findings.exists() and meta["mode"] == "full" else ""
    return head + body + tail


# --------------------------------------------------------------------------------------
# Dry run: every configuration of every mode, checked by both daemons


def dry_run(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir or "/tmp") / f"vhbn-dry-{os.getpid()}"
    workdir.mkdir(parents=True, exist_ok=True)
    write_stamp_scripts(workdir)
    confs: list[tuple[str, Vrrp]] = []
    for m in modes().values():
        confs += [(f"failover {c.label()}", c) for c, _ in m.failover]
        confs += [(f"sigterm {c.label()}", c) for c, _ in m.sigterm]
        confs += [(f"scale {n} x {ms}", scale_conf(n, ms)) for n, ms in m.scale]
    confs += [("stress", Vrrp(interval_ms=10)), ("rt", Vrrp(interval_ms=10, rt=True)), ("no rt", Vrrp(interval_ms=10, no_rt=True)),
              ("health", Vrrp(interval_ms=1000, track=True))]
    failed = 0
    seen = set()
    for label, c in confs:
        key = json.dumps(dataclasses.asdict(c), sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        for host in ("lb1", "lb2"):
            paths = {"stamp": str(workdir / f"stamp-{host}")}
            kdl = workdir / f"{host}.kdl"
            kdl.write_text(render_kdl(c, host, paths))
            p = subprocess.run([args.vrrp_ha, "check", "--config", str(kdl)], capture_output=True, text=True)
            if p.returncode != 0:
                failed += 1
                print(f"FAIL vrrp-ha check {label} {host}:\n{p.stdout}{p.stderr}")
            if shutil.which(args.keepalived) or os.path.exists(args.keepalived):
                kac = workdir / f"{host}.conf"
                kac.write_text(render_keepalived(c, host, paths))
                p = subprocess.run([args.keepalived, "-t", "-f", str(kac)], capture_output=True, text=True)
                if p.returncode != 0:
                    failed += 1
                    print(f"FAIL keepalived -t {label} {host}:\n{p.stdout}{p.stderr}")
            elif host == "lb1":
                print(f"note: {args.keepalived} not found; keepalived configurations not checked")
        print(f"ok {label}")
    # The decoder against a packet of each kind.
    pc = workdir / "t.pcap"
    eth = bytes(6) + bytes.fromhex("020000000001")
    vr = eth + b"\x08\x00" + bytes.fromhex("4500002800004000ff70 0000 c00002c9 e0000012".replace(" ", "")) + bytes([0x31, 51, 100, 1, 0, 10, 0, 0]) + bytes(4)
    arp = eth + b"\x08\x06" + bytes.fromhex("0001080006040001") + bytes(6) + socket.inet_aton(VIP) + bytes(6) + socket.inet_aton(VIP)
    blob = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i, fr in enumerate((vr, arp)):
        blob += struct.pack("<IIII", 100 + i, 0, len(fr), len(fr)) + fr
    pc.write_bytes(blob)
    got = read_pcap(pc)
    if [(g.kind, g.src, g.vrid, g.prio) for g in got] != [("vrrp", "192.0.2.201", 51, 100), ("arp", VIP, 0, 0)]:
        failed += 1
        print(f"FAIL pcap decoder: {got}")
    # The report renders from an empty run.
    fake = argparse.Namespace(vrrp_ha=args.vrrp_ha, keepalived=args.keepalived, seed=1)
    s = Suite(fake, modes()["smoke"], None)  # type: ignore[arg-type]
    s.rt()
    report(s)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    print("dry run: " + ("FAILED" if failed else "all configurations valid"))
    return 1 if failed else 0


# --------------------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "_client":
        ap = argparse.ArgumentParser(prog="bench.py _client")
        ap.add_argument("--vip", required=True)
        ap.add_argument("--out", required=True)
        ap.add_argument("--period-us", type=int, default=1000)
        ap.add_argument("--connect-ms", type=int, default=50)
        ap.add_argument("--total-ms", type=int, default=250)
        ap.add_argument("--max-s", type=float, default=60)
        return client_main(ap.parse_args(sys.argv[2:]))

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--quick", action="store_true", help="reduced set: fewer trials, shorter windows")
    g.add_argument("--full", action="store_true", help="the whole suite; writes BENCHMARKS.md")
    g.add_argument("--smoke", action="store_true", help="seconds of each kind of run (CI)")
    g.add_argument("--dry-run", action="store_true", help="render and check every configuration, no lab")
    g.add_argument("--render", metavar="RESULTS.json",
                   help="write the report again from a run's saved results (target/bench/results-*.json)")
    ap.add_argument("--only", help=f"comma-separated sections: {','.join(SECTIONS)}")
    ap.add_argument("--vrrp-ha", default=str(ROOT / "target" / "release" / "vrrp-ha"), help="the vrrp-ha binary")
    ap.add_argument("--keepalived", default=shutil.which("keepalived") or "/usr/sbin/keepalived")
    ap.add_argument("--report", help="write the Markdown report here (default: BENCHMARKS.md for --full, target/bench/ otherwise)")
    ap.add_argument("--seed", type=int, default=None, help="seed of the random phases")
    ap.add_argument("--workdir", help="parent directory of the run's files (default: /run or /dev/shm, a tmpfs)")
    ap.add_argument("--keep", action="store_true", help="keep configs, logs and captures")
    ap.add_argument("--impls", default=",".join(IMPLS), help="run only these daemons (development; no ratios)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a number of the mode, e.g. stress_s=20 or health_s=60 (development)")
    ap.add_argument("--command", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.render:
        saved = json.loads(Path(args.render).read_text())
        meta = saved["meta"]
        suite = Suite(args, modes()[meta["mode"]], None)  # type: ignore[arg-type]
        suite.results, suite.notes = saved["results"], saved["notes"]
        suite.section_s = meta["sections"]
        body = report(suite)
        rep = Path(args.report) if args.report else ROOT / ("BENCHMARKS.md" if meta["mode"] == "full" else f"target/bench/BENCHMARKS-{meta['mode']}.md")
        rep.write_text(document(suite, body, meta))
        print(f"report written to {rep} from {args.render}")
        return 0
    if not os.path.exists(args.vrrp_ha):
        print(f"bench: no vrrp-ha binary at {args.vrrp_ha} (cargo build --release)", file=sys.stderr)
        return 2
    if args.dry_run:
        return dry_run(args)
    if os.geteuid() != 0:
        print("bench: run as root: it creates network namespaces", file=sys.stderr)
        return 2
    for tool in ("ip", "nginx", "tcpdump", "nft", "curl", "timeout", "strace"):
        if not shutil.which(tool):
            print(f"bench: {tool} is missing (benches/run installs what is needed)", file=sys.stderr)
            return 2
    mode = modes()["full" if args.full else "quick" if args.quick else "smoke"]
    for kv in args.set:
        k, _, v = kv.partition("=")
        if not isinstance(getattr(mode, k, None), (int, float)) or isinstance(getattr(mode, k), bool):
            print(f"bench: --set {kv}: not a number of the mode", file=sys.stderr)
            return 2
        try:
            setattr(mode, k, type(getattr(mode, k))(float(v)))
        except ValueError:
            print(f"bench: --set {kv}: not a number", file=sys.stderr)
            return 2
    impls = tuple(i for i in args.impls.split(",") if i)
    if not impls or any(i not in IMPLS for i in impls):
        print(f"bench: --impls takes {','.join(IMPLS)}", file=sys.stderr)
        return 2
    only = [x for x in (args.only or ",".join(SECTIONS)).split(",") if x]
    bad = [x for x in only if x not in SECTIONS]
    if bad:
        print(f"bench: unknown section(s) {','.join(bad)}; known: {','.join(SECTIONS)}", file=sys.stderr)
        return 2
    if args.seed is None:
        args.seed = random.randrange(1 << 30)

    base = Path(args.workdir) if args.workdir else tmpfs_dir()
    workdir = base / f"vhbn-bench-{os.getpid()}"
    workdir.mkdir(parents=True)
    os.chmod(workdir, 0o755)  # nginx workers (nobody) use their temp paths in it
    write_stamp_scripts(workdir)
    lab = Lab(workdir, args.keep)

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    suite = Suite(args, mode, lab)
    t_start = time.monotonic()
    load_start = Path("/proc/loadavg").read_text().split()[:3]
    rc = 0
    try:
        log(f"lab {lab.prefix}*, files in {workdir}, seed {args.seed}")
        lab.build()
        for h in ("web", "lb1", "lb2"):
            lab.nginx(h)
        for sec in SECTIONS:
            if sec not in only:
                continue
            t = time.monotonic()
            getattr(suite, sec)()
            suite.section_s[sec] = time.monotonic() - t
    except KeyboardInterrupt:
        log("interrupted: cleaning up")
        rc = 130
    except (BenchError, Unsupported, subprocess.SubprocessError, OSError) as e:
        log(f"FAILED: {e}")
        rc = 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        lab.cleanup()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
    if rc == 0 and suite.failures:
        rc = 1
    minutes = (time.monotonic() - t_start) / 60
    body = report(suite)
    print("\n" + body)
    meta = {
        "command": args.command or " ".join(["benches/run", *sys.argv[1:]]),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(), "machine": machine(), "versions": versions(suite.bins), "mode": mode.name,
        "minutes": minutes, "load_start": " ".join(load_start), "load_end": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "sections": suite.section_s, "seed": args.seed, "plan": plan(mode), "workdir": str(base),
    }
    out_dir = ROOT / "target" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if mode.name != "smoke":
        (out_dir / f"results-{mode.name}-{stamp}.json").write_text(json.dumps({"meta": meta, "results": suite.results, "notes": suite.notes}, indent=1, default=str))
    if rc in (0, 1) and any(suite.results.values()):
        # BENCHMARKS.md only from a complete full run.
        complete = mode.name == "full" and rc == 0 and len(only) == len(SECTIONS) and not args.set and len(impls) == 2
        rep = Path(args.report) if args.report else (ROOT / "BENCHMARKS.md" if complete else out_dir / f"BENCHMARKS-{mode.name}.md")
        rep.write_text(document(suite, body, meta))
        log(f"report written to {rep} ({minutes:.1f} minutes)")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        log(f"files kept in {workdir}")
    return rc


if __name__ == "__main__":
    sys.exit(main())

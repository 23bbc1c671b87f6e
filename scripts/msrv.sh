#!/bin/bash
# Checks that Cargo.toml's rust-version tells the truth (scripts/test.sh runs it):
#  1. it is at least the rust-version every locked dependency declares;
#  2. the code builds with that toolchain: either the toolchain building the suite is
#     exactly that version (then the suite's own build is the proof), or rustup has it
#     and `cargo +VERSION check` runs here.
# Exits non-zero when 1 fails, or when 2 cannot be shown and CI is set.
set -euo pipefail
cd "$(dirname "$0")/.."

meta=$(cargo metadata --format-version 1 --locked)
read -r ours deps_max deps_name < <(python3 -c '
import json, sys
m = json.load(sys.stdin)
ws = set(m["workspace_members"])
key = lambda v: tuple(int(x) for x in v.split("."))
ours = [p["rust_version"] for p in m["packages"] if p["id"] in ws][0] or "0"
deps = [(p.get("rust_version") or "0", p["name"]) for p in m["packages"] if p["id"] not in ws]
top = max(deps, key=lambda d: key(d[0]))
print(ours, top[0], top[1])
' <<<"$meta")

norm() { python3 -c 'import sys; v = sys.argv[1].split("."); print(".".join((v + ["0", "0"])[:3]))' "$1"; }
ge() { [ "$(printf '%s\n%s\n' "$(norm "$1")" "$(norm "$2")" | sort -V | head -n1)" = "$(norm "$2")" ]; }

if ! ge "$ours" "$deps_max"; then
    echo "error: rust-version $ours is below $deps_name's $deps_max" >&2
    exit 1
fi
echo "rust-version $ours >= every dependency's (highest: $deps_name $deps_max)"

rustc_version=$(rustc --version | awk '{print $2}')
if [ "$(norm "$rustc_version")" = "$(norm "$ours")" ]; then
    echo "the suite builds with rustc $rustc_version, the declared minimum: its build is the check"
    exit 0
fi
if command -v rustup >/dev/null && rustup toolchain list | grep -q "^$ours"; then
    cargo "+$ours" check --all-targets --locked
    echo "cargo +$ours check passed"
    exit 0
fi
msg="rustc $rustc_version builds the suite, and no $ours toolchain is installed: only the dependency floor was checked"
if [ -n "${CI:-}" ]; then
    echo "error: $msg (install it with: rustup toolchain install $ours --profile minimal)" >&2
    exit 1
fi
echo "warning: $msg" >&2

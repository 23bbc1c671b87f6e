#!/bin/bash
# Run the whole vrrp-ha test suite, as CI does (.ci/run calls this).
#
#   scripts/test.sh        (as root)
#
# Meant for a fresh Debian 12 machine, as root: it installs the Debian
# packages the tests use (only those missing), then runs rustfmt, clippy, the
# build and every test. Root is needed because the lab tests build network
# namespaces with veth links and bridges and run VRRP daemons, keepalived and
# nginx inside them; they never touch the machine's own interfaces.
#
# The tests run with CI=1 unless CI is already set: a test whose prerequisite
# is missing (root, a tool, a kernel feature) then fails loudly instead of
# skipping, so a green run means everything really ran. Without root, run
# `cargo test` directly with CI unset: the lab tests then skip, each saying why.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/packages.sh
. scripts/packages.sh

# What the tests use, beyond a Rust toolchain:
#   nginx-light, keepalived   the HA lab and the keepalived interop tests
#   tshark, tcpdump           wire captures and dissector cross-checks
#   nftables                  packet loss and multicast filtering in the lab
#   iproute2                  namespaces, veth, bridges (ip)
#   dbus                      a private dbus-daemon for the unit-action tests
#   curl                      HTTP through the virtual IP
#   procps, psmisc            ps/pgrep/pkill-by-PID helpers, fuser
#   mandoc, groff-base        man page lint (groff-base has the groff binary)
#   man-db, systemd           systemd-analyze verify on the units, which runs
#                             man(1) on their Documentation= pages
#   gcc, libc6-dev            the linker cargo needs
#   libcap2-bin               capsh: a daemon without CAP_NET_ADMIN (step-down test)
#   debootstrap,              a Debian 12 root file system booted with
#   systemd-container         systemd-nspawn: the units and the package on a
#                             real systemd
#   dpkg-dev, binutils        the package build (dpkg-shlibdeps for its libc6
#                             dependency) and its GLIBC check (objdump)
#   lintian                   the package test: no lintian errors
#   util-linux, mount         unshare and mount: a fake journald socket in a
#                             private mount namespace (logging, lab_envfail)
#   python3, strace           the benchmark suite's dry run and smoke run
#                             (tests/bench_smoke.rs; benches/run itself is not run here)
PACKAGES=(
    nginx-light keepalived tshark tcpdump nftables iproute2 dbus curl
    procps psmisc mandoc groff-base man-db systemd gcc libc6-dev
    debootstrap systemd-container dpkg-dev binutils lintian libcap2-bin
    util-linux mount prometheus python3 strace
)

STEPS=()
step() {
    local name=$1 start end rc=0
    shift
    printf '\n==> %s\n' "$name"
    start=$(date +%s%N)
    "$@" || rc=$?
    end=$(date +%s%N)
    local took
    took=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.1f s", ns / 1e9 }')
    STEPS+=("$(printf '%-8s %10s  %s' "$([ $rc -eq 0 ] && echo ok || echo FAILED)" "$took" "$name")")
    if [ $rc -ne 0 ]; then
        printf '\n<== %s FAILED (exit %d) after %s\n' "$name" "$rc" "$took" >&2
        summary
        exit "$rc"
    fi
    printf '<== %s: %s\n' "$name" "$took"
}

summary() {
    printf '\nSummary:\n'
    printf '  %s\n' "${STEPS[@]}"
}

find_cargo() {
    if ! command -v cargo >/dev/null 2>&1; then
        # rustup installs into ~/.cargo; under sudo, try the invoking user's too.
        local home env
        for home in "$HOME" ${SUDO_USER:+"$(getent passwd "$SUDO_USER" | cut -d: -f6)"}; do
            env="$home/.cargo/env"
            if [ -f "$env" ]; then
                # shellcheck source=/dev/null
                . "$env"
                break
            fi
        done
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        echo "error: cargo not found; install Rust with rustup (https://rustup.rs)" >&2
        return 1
    fi
    if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
        if command -v rustup >/dev/null 2>&1; then
            rustup component add rustfmt clippy || return
        else
            echo "error: cargo fmt and cargo clippy are needed (rustfmt, clippy)" >&2
            return 1
        fi
    fi
    cargo --version
    rustc --version
    echo "kernel $(uname -r), $(nproc) CPUs"
}

if [ "$(id -u)" -ne 0 ]; then
    echo "warning: not root: the lab tests will fail (run: sudo $0)" >&2
fi

step "install Debian packages" install_packages "${PACKAGES[@]}"
step "find cargo" find_cargo
step "MSRV (rust-version)" scripts/msrv.sh
step "cargo fmt --check" cargo fmt --check
step "cargo clippy" cargo clippy --all-targets -- -D warnings
step "cargo build" cargo build --all-targets
# The release build, cargo-deb (installed once, pinned) and the .deb in
# target/debian/; the package test then only repackages it.
step "Debian package" scripts/build-deb.sh
step "cargo test (CI=${CI:-1})" env CI="${CI:-1}" cargo test --all-targets
summary

# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/demo.sh: install Debian packages that
# are missing, without letting their maintainer scripts start services on the
# host (nginx would otherwise start listening on the machine's own port 80; the
# tests and the demo only ever run nginx inside their network namespaces).

install_packages() {
    local missing=() p
    for p in "$@"; do
        # dpkg -s is quick; apt-get update is not, so only run it when needed.
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        echo "all packages present: $*"
        return 0
    fi
    echo "installing: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "error: installing packages needs root: sudo $0" >&2
        return 1
    fi
    local policy=/usr/sbin/policy-rc.d placed=0 rc=0
    if [ ! -e "$policy" ]; then
        # invoke-rc.d and deb-systemd-invoke ask this file; 101 = "action forbidden".
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && placed=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } || rc=$?
    [ "$placed" -eq 0 ] || rm -f "$policy"
    return "$rc"
}

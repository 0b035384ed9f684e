#!/bin/sh
# Make sure a Docker daemon answers, installing and starting one if needed.
# Used by `make test` (and so by CI): Docker tests must run for real, so this
# fails loudly when no daemon can be had instead of letting tests skip.
#
#   - a daemon already answers: nothing to do;
#   - dockerd is missing: install Debian's docker.io (needs root);
#   - dockerd is not running: start it in the background (as root), log to
#     ${EVOLVE_DOCKERD_LOG:-/var/log/evolve-dockerd.log}, wait until it answers.
# debootstrap is installed too: the sandbox image is built offline from
# Debian's packages when no registry answers.
set -eu
LOG="${EVOLVE_DOCKERD_LOG:-/var/log/evolve-dockerd.log}"

need_packages=""
command -v dockerd >/dev/null 2>&1 || need_packages="$need_packages docker.io"
command -v debootstrap >/dev/null 2>&1 || need_packages="$need_packages debootstrap"
if [ -n "$need_packages" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "ensure_engine: need$need_packages; run as root or: sudo apt-get install -y$need_packages" >&2
        exit 1
    fi
    echo "ensure_engine: installing$need_packages from Debian"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need_packages >/dev/null
fi

if docker info >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "ensure_engine: no Docker daemon answers and starting dockerd needs root;" >&2
    echo "  start it (sudo systemctl start docker, or sudo dockerd &) and add yourself to the docker group" >&2
    exit 1
fi
echo "ensure_engine: starting dockerd (log: $LOG)"
nohup dockerd >"$LOG" 2>&1 &
i=0
while [ $i -lt 60 ]; do
    if docker info >/dev/null 2>&1; then
        echo "ensure_engine: Docker daemon up"
        exit 0
    fi
    i=$((i + 1))
    sleep 1
done
echo "ensure_engine: dockerd did not answer within 60 s; last lines of $LOG:" >&2
tail -n 20 "$LOG" >&2 || true
exit 1

#!/usr/bin/env bash
# Make sure the base images that the Dockerfiles name are in podman's local storage.
# Where a container registry is reachable, pull them instead and this script leaves them
# alone (`podman pull docker.io/library/python:3.11-slim-bookworm docker.io/library/mariadb:10.11`).
# Where none is (CI sandboxes, this project's machines), it builds local stand-ins and
# tags them with the real names, so `podman build --pull=never` of the unchanged
# Dockerfiles works:
#   python:3.11-slim-bookworm <- Debian bookworm minbase (debootstrap) with python3 3.11, venv, pip
#   mariadb:10.11     <- that base + Debian's mariadb-server 10.11 + an entrypoint that
#                        implements the official image's documented contract (MARIADB_*
#                        variables, /docker-entrypoint-initdb.d/*.sql on first start)
# The stand-ins are a test harness only: the Dockerfiles and manifests stay written for
# the real images. Cached by name: a second run takes well under a second.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python_image=docker.io/library/python:3.11-slim-bookworm
mariadb_image=docker.io/library/mariadb:10.11
suite=${STANDIN_SUITE:-bookworm}
mirror=${STANDIN_MIRROR:-http://deb.debian.org/debian}

have() { podman image exists "$1"; }

if ! have "$python_image"; then
    rootfs=$(mktemp -d /var/tmp/standin-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' EXIT
    echo "building stand-in for $python_image (debootstrap $suite, about a minute)" >&2
    debootstrap --variant=minbase \
        --include=python3,python3-venv,python3-pip,ca-certificates \
        "$suite" "$rootfs" "$mirror" >/dev/null
    ln -sf python3 "$rootfs/usr/bin/python"
    # Trust what the host trusts (a TLS-inspecting egress proxy's CA, where there is one),
    # so RUN steps reach PyPI; kept through later update-ca-certificates runs.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
        chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
    fi
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
    tar -C "$rootfs" -c . | podman import --quiet \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        - "$python_image" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
fi

if ! have "$mariadb_image"; then
    echo "building stand-in for $mariadb_image" >&2
    podman build --pull=never --quiet -t "$mariadb_image" \
        -f "$here/standin/mariadb.Containerfile" "$here/standin" >/dev/null
fi
echo "base images present: $python_image $mariadb_image" >&2

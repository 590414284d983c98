#!/usr/bin/env bash
# What the whole test suite needs on a Debian/Ubuntu machine, installed and started: the
# one script `.ci/run` and `make test` both call, so the README's command and CI test
# the same thing.
#   nginx            the LoadBalancer stand-in (hot swap behind a proxy, trusted proxies)
#   mariadb          server at 127.0.0.1:3306 (database/start-local.sh), client for db-gen/
#   mosquitto        MQTT broker at 127.0.0.1:1883 (alerts), and its clients for the check
#   chromium         the operator page's browser tests (with chromium-driver)
#   iproute2         the edge/cloud network namespaces
#   podman           the live manifest test (kubernetes-deployment-azure/scripts/prepare-podman-host.sh)
# As root: installs what is missing and starts the services (idempotent: a second run
# installs nothing). As another user: installs nothing; exits 1 with the command to run.
# `--check` only reports, as root too.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

packages=(nginx mariadb-server mariadb-client mosquitto mosquitto-clients chromium chromium-driver iproute2)

missing_packages() {
    local package
    for package in "${packages[@]}"; do
        dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q "ok installed" || echo "$package"
    done
}
mosquitto_answers() {
    mosquitto_pub -h 127.0.0.1 -p 1883 -t facerec/probe -m ready -q 1 >/dev/null 2>&1
}
start_mosquitto() {
    mosquitto_answers && return 0
    # The packaged configuration: Mosquitto 2 without a listener serves loopback only.
    mosquitto -d -c /etc/mosquitto/mosquitto.conf
    for _ in $(seq 1 40); do
        mosquitto_answers && return 0
        sleep 0.25
    done
    echo "Mosquitto did not accept a publish on 127.0.0.1:1883" >&2
    return 1
}

if [ "${1:-}" = --check ] || [ "$(id -u)" != 0 ]; then
    problems=()
    missing=$(missing_packages | tr '\n' ' ')
    [ -z "$missing" ] || problems+=("packages missing: $missing")
    command -v podman >/dev/null || problems+=("podman missing")
    [ "$(id -u)" = 0 ] || problems+=("not root: network namespaces, mounts and pods need root")
    if [ ${#problems[@]} -gt 0 ]; then
        printf 'The whole test suite cannot run here:\n' >&2
        printf '  - %s\n' "${problems[@]}" >&2
        printf 'Run first:  sudo bash scripts/install-test-deps.sh\nthen:       sudo make test\n' >&2
        exit 1
    fi
    exit 0
fi

need=$(missing_packages | tr '\n' ' ')
if [ -n "$need" ]; then
    apt-get update -qq
    # shellcheck disable=SC2086  # one word per package
    apt-get install -y -qq --no-install-recommends $need >/dev/null
fi
bash kubernetes-deployment-azure/scripts/prepare-podman-host.sh
bash database/start-local.sh
start_mosquitto

#!/usr/bin/env bash
# Create (or replace) the podman secret that `podman kube play` resolves for a pod's
# secretKeyRef: the podman counterpart of
#   kubectl create secret generic NAME --from-literal=KEY=VALUE ...
# podman 4.3 reads such a secret as a JSON object of base64-encoded values (a Secret
# document inside the played YAML is stored but cannot be resolved by that version).
# Usage: podman-secret.sh NAME KEY=VALUE [KEY=VALUE ...]
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 NAME KEY=VALUE [KEY=VALUE ...]" >&2
    exit 2
fi
name=$1
shift
json="{"
separator=""
for pair in "$@"; do
    key=${pair%%=*}
    if [[ ! "$key" =~ ^[A-Za-z0-9._-]+$ ]] || [ "$key" = "$pair" ]; then
        echo "not KEY=VALUE with a valid key: ${key}" >&2
        exit 2
    fi
    json+="${separator}\"${key}\":\"$(printf '%s' "${pair#*=}" | base64 -w0)\""
    separator=","
done
json+="}"
podman secret rm "$name" >/dev/null 2>&1 || true
printf '%s' "$json" | podman secret create "$name" - >/dev/null

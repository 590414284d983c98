#!/usr/bin/env bash
# Prepare a Debian/Ubuntu host (root) to build the images and play the manifests with
# podman, as the live deployment test and the local installation do:
#   1. install podman with runc, catatonit (pods' pause process), the CNI dnsname plugin
#      (pods resolve each other by name, as Services do in a cluster), iptables (published
#      ports) and debootstrap;
#   2. configure podman to use runc with cgroupfs: the default runtime (crun) fails on
#      hosts whose cgroup setup is delegated (CI sandboxes), and raising rlimits there is
#      not permitted, so default ulimits are set to values the host already allows;
#   3. make sure the base images the Dockerfiles name exist in podman's storage
#      (build-standin-images.sh: local stand-ins where no container registry is reachable).
# Idempotent: a second run installs nothing and rebuilds nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [ "$(id -u)" != 0 ]; then
    echo "prepare-podman-host.sh must run as root (it installs packages)." >&2
    exit 1
fi

packages=(podman runc catatonit golang-github-containernetworking-plugin-dnsname iptables debootstrap)
need=()
for package in "${packages[@]}"; do
    dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q "ok installed" || need+=("$package")
done
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# A drop-in (read after /etc/containers/containers.conf and /usr/share's defaults) so an
# administrator's own containers.conf is left as it is.
conf_dir=/etc/containers/containers.conf.d
mkdir -p "$conf_dir"
cat > "$conf_dir/50-facerec-runc.conf" <<'CONF'
# Written by kubernetes-deployment-azure/scripts/prepare-podman-host.sh.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
CONF

bash "$here/build-standin-images.sh"

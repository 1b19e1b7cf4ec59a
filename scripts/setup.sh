#!/usr/bin/env bash
# Installs what atalp needs on a fresh Debian machine (only what is missing) and builds it in release mode.
set -euo pipefail
cd "$(dirname "$0")/.."

# libopenmpi-dev and openmpi-bin: the Cluster module links libmpi; `mpirun` runs atalp on several ranks (docs/cluster.md).
packages=(libopenblas-dev libdnnl-dev libhdf5-dev hdf5-tools libjpeg-dev libpng-dev zlib1g-dev pkg-config dataset-fashion-mnist libopenmpi-dev openmpi-bin)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

command -v swift >/dev/null || export PATH="$PATH:/opt/swift/usr/bin"
[ "${1:-}" = "--no-build" ] && exit 0
echo "setup: building (release)"
swift build -c release --product atalp
test -x .build/release/atalp || { echo "setup: build failed" >&2; exit 1; }

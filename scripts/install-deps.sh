#!/usr/bin/env bash
# Installs the Debian packages layerlab needs and a fresh Debian machine with
# Go lacks. Idempotent: it installs only what is missing.
#   runc                         the OCI runtime of the managed buildkitd
#   containernetworking-plugins  CNI plugins for the RUN steps' bridge network
#   iptables                     used by the CNI bridge plugin for NAT
#   busybox-static, debootstrap  for seeding the image mirror
#   chromium                     headless browser for the browser tests
#   npm (when no npm is on PATH)  fetches the official Node binary to seed the node image
set -euo pipefail

need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in runc containernetworking-plugins iptables busybox-static debootstrap chromium "$@"; do
	have "$pkg" || need+=("$pkg")
done
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages: ${need[*]}; run as root or install them" >&2
	exit 1
fi
echo "install-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

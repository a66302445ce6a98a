#!/usr/bin/env bash
# Installs the Debian packages the tests need (code-server's native modules, chromium; git, ps,
# setpriv and useradd for the CLI tests), only those missing. Quick no-op when all are present.
set -euo pipefail

PACKAGES=(chromium libkrb5-dev libsecret-1-dev libx11-dev libxkbfile-dev ripgrep git procps util-linux passwd)

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "ensure-system-packages: all present (${PACKAGES[*]})"
  exit 0
fi

echo "ensure-system-packages: missing: ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "ensure-system-packages: ERROR: not root; run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "ensure-system-packages: apt-get update"
apt-get update -q
echo "ensure-system-packages: apt-get install -y ${missing[*]}"
apt-get install -y -q "${missing[@]}"
echo "ensure-system-packages: done"

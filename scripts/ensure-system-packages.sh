#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need, and only those that are missing:
# chromium and code-server's native-module headers (e2e); git, ps (procps), setpriv and script
# (util-linux, bsdutils) and mount for the CLI and fault tests; curl, and a kubectl and a docker CLI
# (only when none is on PATH: kubernetes-client, docker.io) for the tool helpers' tests.
# Never upgrades an installed package it names (--no-upgrade) and installs no recommended
# packages (--no-install-recommends). A quick no-op when everything is present.
set -euo pipefail

# The last four are for the OS keyring tests (test/keystore, test/harness/keyringSession.ts):
# secret-tool (libsecret-tools) against a gnome-keyring-daemon (gnome-keyring) on a private bus
# (dbus-daemon, with dbus-run-session), waited for with gdbus (libglib2.0-bin). glewlwyd and sqlite3:
# the third real authorization server in the tests (test/glewlwyd), counted from its sqlite database.
PACKAGES=(chromium libkrb5-dev libsecret-1-dev libx11-dev libxkbfile-dev ripgrep git procps util-linux bsdutils mount curl libsecret-tools gnome-keyring dbus-daemon libglib2.0-bin glewlwyd sqlite3)
# Any kubectl or docker client will do (Debian's kubectl 1.20 speaks only the v1beta1 exec API, which
# the test uses then); KUBECTL and DOCKER name the commands looked for.
command -v "${KUBECTL:-kubectl}" >/dev/null 2>&1 || PACKAGES+=(kubernetes-client)
command -v "${DOCKER:-docker}" >/dev/null 2>&1 || PACKAGES+=(docker.io)
# The benchmarks' extras are no test's business: BENCH_PACKAGES ("oidc-agent-cli", bench:cli's native
# peer) names the packages to ensure instead of the list above.
if [[ -n "${BENCH_PACKAGES:-}" ]]; then read -ra PACKAGES <<<"$BENCH_PACKAGES"; fi
say() { echo "ensure-system-packages: $*"; }

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  say "all ${#PACKAGES[@]} present"
  exit 0
fi

INSTALL=(apt-get install -y -q --no-install-recommends --no-upgrade)
say "missing: ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "ensure-system-packages: ERROR: not root; as root run: apt-get update && ${INSTALL[*]} ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
log=$(mktemp "${TMPDIR:-/tmp}/ensure-system-packages-XXXXXX.log")
trap 'rm -f "$log"' EXIT
# apt's own output goes to the log; it is shown only when a step fails.
run() {
  if ! "$@" >>"$log" 2>&1; then
    echo "ensure-system-packages: ERROR: '$*' failed; its output:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
}

say "apt-get update"
run apt-get update -q

# What apt would do: new packages (the missing ones and their dependencies), and installed ones a
# new dependency requires in a newer version ("Inst name [installed version] (new version …)").
plan=$(apt-get install -s "${INSTALL[@]:2}" "${missing[@]}" 2>&1 || true)
new=$(grep -c '^Inst [^ ]* (' <<<"$plan" || true)
upgraded=$(awk '/^Inst [^ ]+ \[/ { printf "%s%s", sep, $2; sep = " " }' <<<"$plan")
say "${INSTALL[*]} ${missing[*]} (${new} new packages with dependencies)"
if [[ -n "$upgraded" ]]; then
  say "note: the new packages need newer versions of these installed ones: $upgraded"
fi
run "${INSTALL[@]}" "${missing[@]}"
say "done"

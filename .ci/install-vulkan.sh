#!/usr/bin/env bash
# Install a software Vulkan driver (Mesa >= 25 lavapipe from bookworm-backports)
# so that Dawn (npm `webgpu`) finds an adapter on a CPU-only Debian 12 machine.
# Debian 12's own Mesa 22.3 lavapipe is too old (requestAdapter() returns null).
# Idempotent; must run as root; non-interactive.
set -euo pipefail

MIN_MESA_MAJOR=25
SOURCES_FILE=/etc/apt/sources.list.d/backports.sources
export DEBIAN_FRONTEND=noninteractive

mesa_major() {
  # Prints the major version of the installed mesa-vulkan-drivers, or nothing.
  dpkg-query -W -f='${Status} ${Version}\n' mesa-vulkan-drivers 2>/dev/null \
    | awk '$1=="install" && $3=="installed" { split($4, v, /[.:~+-]/); print v[1] }'
}

have_lavapipe() {
  local major
  major="$(mesa_major)"
  [[ -n "$major" && "$major" -ge "$MIN_MESA_MAJOR" ]] || return 1
  ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || return 1
  dpkg-query -W -f='${Status}\n' libvulkan1 2>/dev/null | grep -q 'install ok installed'
}

if have_lavapipe; then
  echo "install-vulkan: lavapipe from Mesa $(mesa_major) already installed; nothing to do."
  exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
  echo "install-vulkan: must run as root" >&2
  exit 1
fi

# Same URI and key as the bookworm entry of the existing debian.sources (fallbacks if absent).
uri="http://deb.debian.org/debian"
key="/usr/share/keyrings/debian-archive-keyring.gpg"
if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
  # Take the stanza whose Suites line contains plain "bookworm".
  read -r found_uri found_key < <(awk '
    BEGIN { RS=""; FS="\n" }
    {
      u=""; k=""; s=0
      for (i = 1; i <= NF; i++) {
        if ($i ~ /^URIs:/)      { u=$i; sub(/^URIs:[ \t]*/, "", u); sub(/[ \t].*/, "", u) }
        if ($i ~ /^Signed-By:/) { k=$i; sub(/^Signed-By:[ \t]*/, "", k) }
        if ($i ~ /^Suites:/)    { n=split($i, a, /[ \t]+/); for (j = 2; j <= n; j++) if (a[j]=="bookworm") s=1 }
      }
      if (s && u != "") { print u, (k == "" ? "-" : k); exit }
    }' /etc/apt/sources.list.d/debian.sources) || true
  [[ -n "${found_uri:-}" ]] && uri="$found_uri"
  [[ -n "${found_key:-}" && "${found_key}" != "-" ]] && key="$found_key"
fi

want="Types: deb
URIs: ${uri}
Suites: bookworm-backports
Components: main
Signed-By: ${key}"
if [[ ! -f "$SOURCES_FILE" ]] || [[ "$(cat "$SOURCES_FILE")" != "$want" ]]; then
  printf '%s\n' "$want" > "$SOURCES_FILE"
  echo "install-vulkan: wrote $SOURCES_FILE"
fi

apt-get update -q
apt-get install -y -q --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1

if have_lavapipe; then
  echo "install-vulkan: installed mesa-vulkan-drivers $(dpkg-query -W -f='${Version}' mesa-vulkan-drivers)"
else
  echo "install-vulkan: lavapipe (Mesa >= $MIN_MESA_MAJOR) still missing after install" >&2
  exit 1
fi

#!/usr/bin/env bash
# Installs the Debian packages natter's interop tests need:
#   sip-tester (sipp), iproute2 (ip netns), iptables (the NAT), tshark (packet captures),
#   rtpengine-daemon (the rtpengine allocator's specs), redis-server (the Redis location store's).
# The specs start their own rtpengine and redis-server on random loopback ports and stop them by
# PID. So that the packages' own services do not start on install (rtpengine's default config
# would take ports 30000-40000 and 2223), a policy-rc.d denying service starts is in place for the
# duration of the install when there is none already (see /usr/share/doc/init-system-helpers/README.policy-rc.d).
# Idempotent: does nothing when they are all installed; runs `apt-get update` only when one is
# missing (and once more if the install fails on stale lists). Non-interactive: answers
# wireshark-common's "should non-superusers be able to capture packets?" with no.
# Given package names as arguments, installs those instead (bench/install-deps.sh does).
set -euo pipefail

if [ $# -gt 0 ]; then
  PKGS=("$@")
else
  PKGS=(sip-tester iproute2 iptables tshark rtpengine-daemon redis-server)
fi

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
for p in "${PKGS[@]}"; do
  installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: already installed: ${PKGS[*]}"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "install-deps: missing ${missing[*]} and not root (no passwordless sudo): install them by hand" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# wait for another apt/dpkg (e.g. a background install) instead of failing on its lock
APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

echo "wireshark-common wireshark-common/install-setuid boolean false" | "${SUDO[@]}" debconf-set-selections

# no service starts during the install (only if nobody else put a policy-rc.d in place)
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\n# natter install-deps: no service starts during the install\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
  "${SUDO[@]}" chmod 755 "$POLICY"
  trap '"${SUDO[@]}" rm -f "$POLICY"' EXIT
fi

echo "install-deps: installing ${missing[*]}"
"${SUDO[@]}" apt-get "${APT_OPTS[@]}" update -qq
if ! "${SUDO[@]}" apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${missing[@]}"; then
  echo "install-deps: install failed, refreshing package lists and retrying once" >&2
  "${SUDO[@]}" apt-get "${APT_OPTS[@]}" update
  "${SUDO[@]}" apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${missing[@]}"
fi

for p in "${PKGS[@]}"; do
  installed "$p" || { echo "install-deps: $p still not installed" >&2; exit 1; }
done
echo "install-deps: done"

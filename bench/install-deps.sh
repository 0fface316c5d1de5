#!/usr/bin/env bash
# Installs what `npm run bench` drives, from Debian's packages:
#   sip-tester (sipp), kamailio (5.6: tm, rr, sl, maxfwd, nathelper, usrloc, registrar, rtpengine
#   modules are all in the base package) and rtpengine-daemon (run in userspace mode, --table=-1).
# Idempotent: does nothing when all three commands exist. Runs `apt-get update` only when one is
# missing.
#
# Services: the bench starts its own kamailio and rtpengine in the foreground on loopback ports
# and stops them by PID. The packages' own services must not run: on a machine with an init
# system, an install would start kamailio.service and rtpengine-daemon.service. This script
# blocks that during the install (a temporary /usr/sbin/policy-rc.d answering 101, "action
# forbidden", which invoke-rc.d honours), and removes the file afterwards, only if it created
# it. It stops nothing it did not start, and never touches a service that was already there.
set -euo pipefail

need=()
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v kamailio >/dev/null 2>&1 || need+=(kamailio)
command -v rtpengine >/dev/null 2>&1 || need+=(rtpengine-daemon)

if [ ${#need[@]} -eq 0 ]; then
  echo "bench/install-deps: sipp, kamailio and rtpengine are installed"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "bench/install-deps: missing ${need[*]} and not root (no passwordless sudo): install them by hand" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\n# natter bench/install-deps.sh: no service starts during this install\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"
  made_policy=1
fi
cleanup() {
  if [ "$made_policy" -eq 1 ]; then "${SUDO[@]}" rm -f "$policy"; fi
}
trap cleanup EXIT

echo "bench/install-deps: installing ${need[*]}"
"${SUDO[@]}" apt-get "${APT_OPTS[@]}" update -qq
if ! "${SUDO[@]}" apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${need[@]}"; then
  echo "bench/install-deps: install failed, refreshing package lists and retrying once" >&2
  "${SUDO[@]}" apt-get "${APT_OPTS[@]}" update
  "${SUDO[@]}" apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${need[@]}"
fi

for c in sipp kamailio rtpengine; do
  command -v "$c" >/dev/null 2>&1 || { echo "bench/install-deps: $c still missing" >&2; exit 1; }
done
echo "bench/install-deps: done"

#!/usr/bin/env bash
# Installs what `npm run bench` drives, from Debian's packages: sip-tester (sipp), kamailio (5.6:
# tm, rr, sl, maxfwd, nathelper, usrloc, registrar, rtpengine modules are all in the base package)
# and rtpengine-daemon (run in userspace mode, --table=-1). The bench starts its own kamailio and
# rtpengine in the foreground on loopback ports and stops them by PID.
#
# The install itself is .ci/install-deps.sh's: idempotent, `apt-get update` only when a package is
# missing, and the packages' own services kept from starting during the install (a temporary
# policy-rc.d, removed afterwards only if it created it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/../.ci/install-deps.sh" sip-tester kamailio rtpengine-daemon
for c in sipp kamailio rtpengine; do
  command -v "$c" >/dev/null 2>&1 || { echo "bench/install-deps: $c still missing" >&2; exit 1; }
done
echo "bench/install-deps: done"

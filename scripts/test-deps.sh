#!/usr/bin/env bash
# Installs the Debian packages whose servers the integration tests start on loopback
# (Dovecot, Postfix, NSD, PostgreSQL). Skips what is present; needs root (or sudo) to install.
set -euo pipefail
need=()
for p in dovecot-imapd postfix nsd postgresql chromium; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
((${#need[@]})) || exit 0
SUDO=""; [[ $(id -u) == 0 ]] || SUDO="sudo"
echo "installing test servers: ${need[*]}" >&2
# never let the packages start their system-wide daemons (ports 25, 143, 53, 5432)
made_policy=""
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d; made_policy=1
fi
echo 'postfix postfix/main_mailer_type select No configuration' | $SUDO debconf-set-selections
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
[[ -z $made_policy ]] || $SUDO rm -f /usr/sbin/policy-rc.d

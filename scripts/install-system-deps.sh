#!/usr/bin/env bash
# System packages the test suite needs: PostgreSQL (a throwaway server per run), Chromium and a CJK font
# (browser tests; without the font Chinese pages render as boxes). Installed with apt when run as root;
# otherwise we say what is missing and how to get it.
set -euo pipefail
need=()
ls -d /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "ok installed" \
  || ls /usr/share/fonts/opentype/noto/NotoSansCJK* >/dev/null 2>&1 || need+=(fonts-noto-cjk)
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages: PostgreSQL, Chromium and CJK fonts present"
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing with apt: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Debian starts a cluster on install; the tests start their own, so the packaged one may stay or go.
  echo "installed: ${need[*]}"
else
  cat >&2 <<MSG
Missing system packages: ${need[*]}
Install them as root:   sudo apt-get install -y ${need[*]}
(PostgreSQL serves the PostgreSQL half of the suite; Chromium and fonts-noto-cjk the browser tests.)
MSG
  exit 1
fi

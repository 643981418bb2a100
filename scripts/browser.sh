#!/usr/bin/env bash
# Makes sure Debian's Chromium is there for the portal's browser tests (Playwright drives it; no browser
# download). Installs it with apt-get when missing and this user may; otherwise the browser tests skip
# and say why.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }
fi

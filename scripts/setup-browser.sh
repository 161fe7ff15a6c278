#!/usr/bin/env bash
# Installs headless Chromium (root) for the browser test of storm's HTML report
# (test/storm/html-report.test.ts drives /usr/bin/chromium through playwright-core). Idempotent.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "setup-browser: ok ($(/usr/bin/chromium --version 2>/dev/null | head -1))"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup-browser: must run as root (it installs the Debian chromium package)" >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# A font so the report's text renders in screenshots; recommends are not needed headless.
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "setup-browser: ok ($(/usr/bin/chromium --version 2>/dev/null | head -1))"

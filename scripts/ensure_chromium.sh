#!/usr/bin/env bash
# The inspector's browser tests drive Debian's Chromium (Playwright's own browser download needs a CDN).
# Installs the `chromium` package when it is missing and we are root on an apt system; otherwise says plainly
# that the browser tests will be skipped, and why. Never fails the caller.
set -uo pipefail
if [ -n "${OMNE_TEST_CHROMIUM:-}" ] && [ -x "$OMNE_TEST_CHROMIUM" ]; then exit 0; fi
# OMNE_CHROMIUM_CANDIDATES: where to look first (tests point it elsewhere to see the messages below).
for bin in ${OMNE_CHROMIUM_CANDIDATES:-/usr/bin/chromium /usr/bin/chromium-browser}; do [ -x "$bin" ] && exit 0; done
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing Debian's chromium for the browser tests (apt-get install -y chromium)"
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
     || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 \
          && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; }; then
    exit 0
  fi
  echo "!! could not install chromium with apt-get: the browser tests (tests/ui/test_ui_browser.py) will be SKIPPED" >&2
  exit 0
fi
echo "!! Chromium is not installed and this script cannot install it (needs root and apt-get):" >&2
echo "!! the browser tests (tests/ui/test_ui_browser.py) will be SKIPPED. Install it with:" >&2
echo "!!   sudo apt-get install -y chromium    (or set OMNE_TEST_CHROMIUM to a Chromium binary)" >&2
exit 0

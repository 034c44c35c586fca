#!/usr/bin/env bash
# Install the Debian packages cartrial needs when they are missing:
#   postgresql      - the PostgreSQL test suite runs against a throw-away local cluster
#   libpango*, libharfbuzz-subset0, fonts - WeasyPrint renders the PDF report (Pango, font subsetting)
#   poppler-utils   - pdftotext / pdftoppm: the report tests read the PDF's text and render its pages
#   chromium, chromium-driver - the web application's browser tests (Selenium, headless)
#   npm             - installs axe-core (tests/web/axe) for the browser tests' accessibility audit
# Runs apt-get only as root; otherwise it says what is missing and goes on (the tests that need a
# missing package then fail loudly, they are never skipped).
set -euo pipefail
need=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || need+=(postgresql)
dpkg -s libpango-1.0-0 >/dev/null 2>&1 || need+=(libpango-1.0-0)
dpkg -s libpangoft2-1.0-0 >/dev/null 2>&1 || need+=(libpangoft2-1.0-0)
dpkg -s libharfbuzz-subset0 >/dev/null 2>&1 || need+=(libharfbuzz-subset0)
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need+=(fonts-dejavu-core)
dpkg -s poppler-utils >/dev/null 2>&1 || need+=(poppler-utils)
dpkg -s chromium >/dev/null 2>&1 || need+=(chromium)
dpkg -s chromium-driver >/dev/null 2>&1 || need+=(chromium-driver)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "Missing Debian packages (install them as root): ${need[*]}" >&2
fi

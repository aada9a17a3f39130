#!/usr/bin/env bash
# The test suite, as CI runs it: installs what is missing (venv, Debian chromium for the browser tests),
# ingests Beauty, then runs every test, including the real embedded LLM (marker llm) and the real browser
# (marker browser). Extra arguments go to pytest (e.g. `-m "not llm"`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"
if [ ! -x /usr/bin/chromium ]; then
  echo "[test] installing Debian chromium for the browser tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
mkdir -p test-output
python -m pytest -q "$@"

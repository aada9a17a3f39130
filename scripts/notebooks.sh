#!/usr/bin/env bash
# Install what is missing and prepare the Beauty dataset and its title vectors (as workbench.sh does), then open
# JupyterLab on notebooks/ at 127.0.0.1, headless, and print its URL (with its token). Safe to run again.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"
PORT="${REASEQ_NOTEBOOKS_PORT:-8888}"
exec reaseq notebooks --port "$PORT"

#!/usr/bin/env bash
# The main job: install what is missing, prepare the Beauty dataset and its title vectors, then open the
# workbench on 127.0.0.1 and print its URL. Safe to run again: finished steps are skipped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/_setup.sh"
PORT="${REASEQ_PORT:-8501}"
exec reaseq app --dataset beauty --port "$PORT"

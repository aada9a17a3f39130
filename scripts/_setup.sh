#!/usr/bin/env bash
# Shared set-up: a virtual environment with the project and every extra installed (skipped when done),
# the Beauty dataset ingested and its title vectors encoded (each skipped when done). Sourced by workbench.sh and test.sh.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
VENV="$REPO/.venv"
STAMP="$VENV/.reaseq-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment in .venv"
  "$PY" -m venv "$VENV"
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing the project and its extras (first time: ~10 min, llama-cpp-python compiles)"
  # Portable CPU flags: a native build would not run on a different CPU; these build in ~4-6 min.
  export CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}"
  export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e '.[all]'
  echo "$want" > "$STAMP"
else
  echo "[setup] virtual environment up to date"
fi
export PATH="$VENV/bin:$PATH"
echo "[setup] dataset"
reaseq data ingest --dataset beauty
echo "[setup] title vectors (first time ~2 min)"
reaseq represent build --dataset beauty --title-only

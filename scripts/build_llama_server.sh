#!/usr/bin/env bash
# Builds llama.cpp's `llama-server` (continuous batching over parallel slots) from the llama.cpp source that
# ships inside the installed llama-cpp-python's sdist, into .venv/bin/llama-server. `reaseq llm serve --parallel N`
# runs it. Needs cmake and a C++ compiler; ~7 min on 2 cores. Not needed by the tests or the embedded backend.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$REPO/.venv/bin/python"
VER="$("$PY" -c 'import importlib.metadata as m; print(m.version("llama_cpp_python"))')"
WORK="${TMPDIR:-/tmp}/reaseq-llama-server-$VER"
mkdir -p "$WORK"
cd "$WORK"
[ -f "llama_cpp_python-$VER.tar.gz" ] || "$PY" -m pip download -q "llama-cpp-python==$VER" --no-binary :all: --no-deps -d .
[ -d "llama_cpp_python-$VER" ] || tar xzf "llama_cpp_python-$VER.tar.gz"
SRC="$WORK/llama_cpp_python-$VER/vendor/llama.cpp"
cmake -S "$SRC" -B "$SRC/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF \
  -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
  -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_UI=OFF \
  -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF > "$WORK/cmake.log"
cmake --build "$SRC/build" --target llama-server -j "${CMAKE_BUILD_PARALLEL_LEVEL:-2}" > "$WORK/build.log"
cp "$SRC/build/bin/llama-server" "$REPO/.venv/bin/llama-server"
echo "built $REPO/.venv/bin/llama-server (llama.cpp from llama-cpp-python $VER)"

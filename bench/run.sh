#!/usr/bin/env bash
# `npm run bench`: BrickML vs PyTorch side by side (bench/harness.ts). Installs what is missing —
# Debian's python3-torch, python3-numpy, OpenBLAS and gcc — with apt-get when run as root (and says
# so), builds the packages, then runs the harness. Arguments go to the harness.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${BENCH_PYTHON:-/usr/bin/python3}"
missing=()
"$PY" -c 'import torch, numpy' 2>/dev/null || missing+=(python3-torch python3-numpy)
[ -e /usr/include/x86_64-linux-gnu/cblas.h ] || [ -e /usr/include/cblas.h ] || ls /usr/include/*/cblas.h >/dev/null 2>&1 || missing+=(libopenblas-dev)
command -v gcc >/dev/null || missing+=(gcc)
# PyTorch on Debian uses whatever BLAS the alternatives name: OpenBLAS, not the reference BLAS.
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || missing+=(libopenblas0-pthread)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "bench: installing ${missing[*]} with apt-get (PyTorch reference, OpenBLAS, sgemm peak)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "bench: missing ${missing[*]} — run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
npx turbo run build --filter='./packages/*' --output-logs=errors-only >/dev/null
mkdir -p out/bench
exec node packages/diffusion/scripts/run.mjs bench/harness.ts "$@"

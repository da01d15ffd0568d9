#!/usr/bin/env bash
# bench/gpu/pack.sh ENTRY.{ts,mjs,js}...  — run from the repository root, after `npm ci` and a build
# of the packages (`npx turbo build --filter='./packages/*'`: entries are bundled from the packages'
# dist/, as an app gets them).
# Builds .gpu/ (git-ignored) for a run on a bare NVIDIA GPU machine that has neither Node nor a Vulkan loader:
#   .gpu/<name>.mjs       each ENTRY bundled by esbuild into one ESM file (only the npm package `webgpu` stays external)
#   .gpu/node_modules/webgpu   Dawn for linux-x64 only (21 MB instead of 132 MB)
#   .gpu/node.xz          this machine's Node binary (the GPU machine has none)
#   .gpu/gl/*.deb         the Vulkan loader and glvnd (the NVIDIA driver's Vulkan ICD needs libGLX/libEGL)
#   .gpu/prelude.sh       sets all of that up there, then runs its arguments
# Then copy the repository with .gpu/ to the GPU machine and, from the repository root:
#   bash .gpu/prelude.sh node .gpu/gpu-check.mjs
# (see README.md beside this script).
set -eu
[ $# -ge 1 ] || { echo "usage: bench/gpu/pack.sh ENTRY..." >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
NM=${NODE_MODULES:-node_modules}
# `webgpu` (Dawn) is a dev dependency of @brickml/backend-node, so `npm ci` installs it.
[ -f "$NM/webgpu/dist/linux-x64/dawn.node" ] || { echo "pack.sh: $NM/webgpu missing: run npm ci (or npm install webgpu) from the repository root first" >&2; exit 1; }
ESBUILD=${ESBUILD:-$NM/.bin/esbuild}; [ -x "$ESBUILD" ] || { echo "pack.sh: esbuild missing ($ESBUILD): run npm ci first" >&2; exit 1; }
mkdir -p .gpu/node_modules/webgpu/dist/linux-x64 .gpu/gl
cp "$NM/webgpu/index.js" "$NM/webgpu/package.json" .gpu/node_modules/webgpu/
cp "$NM/webgpu/dist/linux-x64/dawn.node" .gpu/node_modules/webgpu/dist/linux-x64/
for e in "$@"; do
  n=$(basename "${e%.*}")
  "$ESBUILD" "$e" --bundle --platform=node --format=esm --main-fields=module,main --external:webgpu \
    --outfile=".gpu/$n.mjs" --log-level=warning \
    --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);"
done
[ -f .gpu/node.xz ] || xz -T2 -6 -c "$(command -v node)" > .gpu/node.xz
if ! ls .gpu/gl/libvulkan1_*.deb .gpu/gl/libglvnd0_*.deb >/dev/null 2>&1; then
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  mkdir -p /tmp/amd64/partial && apt-get $o update -qq && \
    (cd .gpu/gl && apt-get $o download libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2 2>/dev/null)
fi
cp "$HERE/prelude.sh" .gpu/prelude.sh
du -sh .gpu

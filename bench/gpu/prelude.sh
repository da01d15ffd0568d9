#!/usr/bin/env bash
# prelude.sh CMD...  — on the GPU machine, from the repository root (copied there by bench/gpu/pack.sh
# as .gpu/prelude.sh): Vulkan loader, NVIDIA ICD, Node on PATH, then CMD. See pack.sh and README.md.
set -u
for f in .gpu/gl/*.deb; do dpkg -x "$f" /; done; ldconfig
ICD=${VK_ICD_FILENAMES:-$(ls /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd*.json /usr/share/vulkan/icd.d/nvidia_icd*.json 2>/dev/null | head -1)}
export VK_ICD_FILENAMES=$ICD VK_DRIVER_FILES=$ICD XDG_RUNTIME_DIR=/tmp/xdg
mkdir -p /tmp/xdg /tmp/nodebin
[ -x /tmp/nodebin/node ] || { xz -dc .gpu/node.xz > /tmp/nodebin/node && chmod +x /tmp/nodebin/node; }
export PATH=/tmp/nodebin:$PATH NODE_PATH=$PWD/.gpu/node_modules
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
echo "node $(node --version), Vulkan ICD ${ICD:-none}"
exec "$@"

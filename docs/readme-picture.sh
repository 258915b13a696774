#!/usr/bin/env bash
# Regenerate the README's picture: the main job (the README's first command, on the embedded world model), its
# labelled grid (source | reconstruction | edit) at three frames, stacked into docs/images/main-job-grid.png.
#   npm run readme:picture
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
node bin/fatezero.js edit --target "a red car driving down a curvy road in the snow" --out "$work/edit.mp4" --cache-dir "$work/cache"
ffmpeg="$(node -p "require('@ffmpeg-installer/ffmpeg').path")"
# Frames 0, 3 and 7 of the 8-frame clip, one above the other.
"$ffmpeg" -v error -i "$work/edit.grid.mp4" -vf "select='eq(n\,0)+eq(n\,3)+eq(n\,7)',tile=1x3" -frames:v 1 -update 1 "$work/grid.png"
mv "$work/grid.png" docs/images/main-job-grid.png
echo "wrote docs/images/main-job-grid.png"

#!/bin/sh
# Renders an HTML report to PNG with headless Chromium, to check it as a
# browser shows it:
#
#   scripts/render-report.sh report.html report.png [width] [height]
#
# Installs Debian's chromium package if it is missing (needs root and the
# Debian package registry).
set -eu
html=${1:?usage: scripts/render-report.sh REPORT.html OUT.png [WIDTH] [HEIGHT]}
png=${2:?usage: scripts/render-report.sh REPORT.html OUT.png [WIDTH] [HEIGHT]}
width=${3:-1100}
height=${4:-9000}
if ! command -v chromium >/dev/null 2>&1; then
    echo "installing chromium (Debian package) ..." >&2
    apt-get install -y chromium >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y chromium >/dev/null; }
fi
abs=$(cd "$(dirname "$html")" && pwd)/$(basename "$html")
out=$(cd "$(dirname "$png")" && pwd)/$(basename "$png")
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --window-size="$width,$height" --screenshot="$out" "file://$abs" >/dev/null 2>&1
echo "wrote $out" >&2

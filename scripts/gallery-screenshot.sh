#!/usr/bin/env bash
# Renders a run's HTML gallery with headless Chromium and saves a screenshot (not part of CI).
#   scripts/gallery-screenshot.sh out/examples/demo-methods/index.html gallery.png
set -euo pipefail
PAGE="${1:?usage: gallery-screenshot.sh PAGE.html OUT.png}"
OUT="${2:?usage: gallery-screenshot.sh PAGE.html OUT.png}"
BROWSER=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$BROWSER" ]; then
  echo "installing chromium (Debian)"; apt-get install -y -qq chromium >/dev/null
  BROWSER=$(command -v chromium)
fi
"$BROWSER" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,900 \
    --screenshot="$(realpath -m "$OUT")" "file://$(realpath "$PAGE")"
echo "wrote $OUT"

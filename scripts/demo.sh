#!/usr/bin/env bash
# The demo: EfficientNet-Lite0 (real ImageNet weights) explains a cat photo with Grad-CAM.
# Prints the top-5 classes with their names and writes the overlay to demo-output/.
# The model's preprocessing, class names and target layer come from its model card,
# demo/efficientnet-lite0.swiftcam.json.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFTCAM=.build/release/swiftcam
[ -x "$SWIFTCAM" ] || swift build -c release

"$SWIFTCAM" predict --model demo/efficientnet-lite0.onnx --image demo/cat.png
"$SWIFTCAM" explain --model demo/efficientnet-lite0.onnx --image demo/cat.png --method gradcam --output-dir demo-output
echo "open demo-output/cat_gradcam.png to see where the model looked"

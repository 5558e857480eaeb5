#!/usr/bin/env bash
# The demo: EfficientNet-Lite0 (real ImageNet weights) explains a cat photo with Grad-CAM.
# Prints the top-5 classes with their names and writes the overlay to demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFTCAM=.build/release/swiftcam
[ -x "$SWIFTCAM" ] || swift build -c release
PREPROCESS=(--resize shorter:256 --crop 224x224 --mean 127 --std 128 --raw-scale)

"$SWIFTCAM" predict --model demo/efficientnet-lite0.onnx --image demo/cat.png "${PREPROCESS[@]}"
"$SWIFTCAM" explain --model demo/efficientnet-lite0.onnx --image demo/cat.png "${PREPROCESS[@]}" \
    --method gradcam --target-layer /_head_relu6/Clip_output_0 --output-dir demo-output
echo "open demo-output/cat_gradcam.png to see where the model looked"

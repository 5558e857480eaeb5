#!/usr/bin/env bash
# Builds the example plugin against an installed SwiftCAM (scripts/install.sh PREFIX), with one
# swiftc command, and shows it loaded:
#   Examples/ThirdPartyPlugin/build.sh PREFIX OUTPUT_FOLDER
set -euo pipefail
PREFIX="${1:?usage: build.sh PREFIX OUTPUT_FOLDER}"
OUT="${2:?usage: build.sh PREFIX OUTPUT_FOLDER}"
LIB="$PREFIX/lib/swiftcam"
mkdir -p "$OUT"
swiftc -emit-library -O -module-name MaxActivationCAM \
    -I "$LIB/Modules" -L "$LIB" -lCAMCore -Xlinker -rpath -Xlinker "$LIB" \
    -o "$OUT/libswiftcam-maxactivation.so" "$(dirname "$0")/MaxActivationCAM.swift"
SWIFTCAM_PLUGIN_PATH="$OUT" "$PREFIX/bin/swiftcam" plugins | grep -A1 maxactivation

#!/usr/bin/env bash
# Installs SwiftCAM under PREFIX (default /usr/local):
#   PREFIX/lib/swiftcam/swiftcam                the tool (PREFIX/bin/swiftcam links to it)
#   PREFIX/lib/swiftcam/libCAMCore.so           the core library
#   PREFIX/lib/swiftcam/swiftcam-plugins/*.so   the plugins
#   PREFIX/lib/swiftcam/Modules/                the core's Swift module (and its .swiftinterface)
#                                               for plugins built outside this package
# Usage: scripts/install.sh [PREFIX]
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX="${1:-/usr/local}"
BUILD=.build/release
[ -x "$BUILD/swiftcam" ] || swift build -c release
LIB="$PREFIX/lib/swiftcam"
mkdir -p "$LIB/swiftcam-plugins" "$LIB/Modules" "$PREFIX/bin"
install -m 755 "$BUILD/swiftcam" "$LIB/swiftcam"
install -m 755 "$BUILD/libCAMCore.so" "$LIB/libCAMCore.so"
for p in "$BUILD"/libswiftcam-*.so; do install -m 755 "$p" "$LIB/swiftcam-plugins/"; done
for f in "$BUILD"/Modules/CAMCore.*; do install -m 644 "$f" "$LIB/Modules/"; done
ln -sf "../lib/swiftcam/swiftcam" "$PREFIX/bin/swiftcam"
echo "installed to $LIB ($(ls "$LIB/swiftcam-plugins" | wc -l) plugins); run $PREFIX/bin/swiftcam"

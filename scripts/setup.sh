#!/usr/bin/env bash
# Installs the system libraries SwiftCAM builds on (Debian 12) and builds it in release mode.
#   scripts/setup.sh            install packages (when missing) and build
#   scripts/setup.sh --no-build install packages only
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  libopenblas-dev        # CBLAS GEMM and LAPACK SVD
  libprotobuf-c-dev      # ONNX importer: protobuf runtime
  protobuf-c-compiler    # ONNX importer: regenerating the schema code (scripts/generate-onnx-proto.sh)
  libhdf5-dev            # Keras .h5 importer
  libpng-dev             # PNG in and out
  libjpeg62-turbo-dev    # JPEG (libjpeg-turbo)
  libturbojpeg0-dev      # JPEG through the TurboJPEG API
  pkg-config
  libonnx-testdata       # ONNX's per-operator conformance tests (used by the test suite)
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${1:-}" != "--no-build" ]; then
  echo "setup: building (release)"
  swift build -c release
fi

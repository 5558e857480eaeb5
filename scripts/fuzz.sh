#!/usr/bin/env bash
# Builds libFuzzer targets from the sources they exercise (instrumented with -sanitize=fuzzer
# and AddressSanitizer) and runs them for a bounded time. Not part of CI.
#   scripts/fuzz.sh TARGET|all [SECONDS]      TARGET: onnx keras manifest npy image
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="${1:?usage: fuzz.sh onnx|keras|manifest|npy|image|all [SECONDS]}"
SECONDS_PER_TARGET="${2:-600}"
OUT=.build-fuzz
mkdir -p "$OUT/obj" "$OUT/modules"
CORE=Sources/CAMCore/Sources
SAN=(-sanitize=fuzzer,address)
CSAN=(-fsanitize=fuzzer-no-link,address -O1 -g)

# C parts, instrumented.
clang "${CSAN[@]}" -O3 -c "$CORE/CKernels/kernels.c" -I "$CORE/CKernels/include" -o "$OUT/obj/ckernels.o"
cat > "$OUT/modules/module.modulemap" <<MAP
module CKernels { header "$PWD/$CORE/CKernels/include/CKernels.h" export * }
module ONNXProto { header "$PWD/Plugins/ONNXImporter/ONNXProto/include/onnx.pb-c.h" header "$PWD/Plugins/ONNXImporter/ONNXProto/include/onnx_proto_support.h" export * }
module CHDF5 { header "$PWD/Plugins/KerasImporter/CHDF5/include/CHDF5.h" export * }
MAP
clang "${CSAN[@]}" -c Plugins/ONNXImporter/ONNXProto/onnx.pb-c.c -I Plugins/ONNXImporter/ONNXProto/include -o "$OUT/obj/onnx.pb-c.o"
clang "${CSAN[@]}" -c Plugins/ONNXImporter/ONNXProto/onnx_proto_support.c -I Plugins/ONNXImporter/ONNXProto/include -o "$OUT/obj/onnx_proto_support.o"
clang "${CSAN[@]}" -c Plugins/KerasImporter/CHDF5/hdf5_reader.c -I Plugins/KerasImporter/CHDF5/include -I /usr/include/hdf5/serial -o "$OUT/obj/hdf5_reader.o"

build() { # name, extra sources..., then -- and extra link flags
  local name=$1; shift
  local sources=() links=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do sources+=("$1"); shift; done
  [ $# -gt 0 ] && shift && links=("$@")
  echo "fuzz: building $name"
  # The target's sources are compiled as one module named CAMCore, so `import CAMCore` in the
  # plugin sources resolves to these instrumented copies.
  local target_file="$OUT/obj/$name-entry.swift"
  sed '/^import CAMCore$/d' "Fuzz/Targets/$name.swift" > "$target_file"
  swiftc "${SAN[@]}" -O -g -parse-as-library -module-name CAMCore -Xcc -fmodule-map-file="$OUT/modules/module.modulemap" \
      -I "$CORE/CImageCodecs" -Xcc -I"$CORE/CImageCodecs" -Xcc -I/usr/include/hdf5/serial \
      $(find "$CORE/CAMCore" -name '*.swift') "${sources[@]}" "$target_file" \
      "$OUT/obj/ckernels.o" -lpng16 -lturbojpeg -ldl "${links[@]}" -o "$OUT/fuzz-$name" 2>&1 | grep -v "warning:" | grep -v "^ *|" | grep -v "^$" || true
  # Plugin sources `import CAMCore` / `import ONNXFormat`: strip those imports (one module).
}

prepare_plugin_sources() { # folder → stripped copies
  local dir="$OUT/src/$(echo "$1" | tr '/' '_')"
  rm -rf "$dir" && mkdir -p "$dir"
  for f in "$1"/*.swift; do sed -e '/^import CAMCore$/d' -e '/^import ONNXFormat$/d' -e '/^import KerasFormat$/d' "$f" > "$dir/$(basename "$f")"; done
  ls "$dir"/*.swift | grep -v '/Plugin.swift$'
}

seed() { # name, files...
  local corpus="$OUT/corpus/$1"; shift
  mkdir -p "$corpus"
  for f in "$@"; do [ -f "$f" ] && cp -n "$f" "$corpus/" 2>/dev/null || true; done
}

run() { # name
  local corpus="$OUT/corpus/$1" crashes="Fuzz/crashes/$1"
  mkdir -p "$corpus" "$crashes"
  echo "fuzz: running $1 for ${SECONDS_PER_TARGET}s"
  # A libhdf5 that loops is stopped by SwiftCAM after SWIFTCAM_HDF5_TIMEOUT seconds: keep
  # that well under libFuzzer's -timeout, so such inputs count as handled, not as hangs.
  SWIFTCAM_HDF5_TIMEOUT=2 "$OUT/fuzz-$1" "$corpus" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=20 \
      -artifact_prefix="$crashes/" -print_final_stats=1 2>&1 | tail -15
}

F=../shared/fixtures
for t in onnx keras manifest npy image; do
  [ "$TARGET" = all ] || [ "$TARGET" = "$t" ] || continue
  case $t in
    onnx)
      build onnx $(prepare_plugin_sources Plugins/ONNXImporter/ONNXFormat) $(prepare_plugin_sources Plugins/ONNXImporter/Importer) \
          "$OUT/obj/onnx.pb-c.o" "$OUT/obj/onnx_proto_support.o" -- -lprotobuf-c
      seed onnx $(ls /usr/share/libonnx-testdata/data/node/*/model.onnx 2>/dev/null | head -200) ;;
    keras)
      build keras $(prepare_plugin_sources Plugins/KerasImporter/KerasFormat) $(prepare_plugin_sources Plugins/KerasImporter/Importer) \
          "$OUT/obj/hdf5_reader.o" -- -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5_serial
      seed keras Tests/KerasImporterTests/Fixtures/*.h5 "$F"/keras/*/model.h5 ;;
    manifest)
      build manifest
      seed manifest Schemas/examples/*.json demo/*.swiftcam.json ;;
    npy)
      build npy
      seed npy Tests/CAMCoreTests/Image/Fixtures/*.npy "$F"/real/efficientnet_lite0/GradCAM_raw.npy ;;
    image)
      build image
      seed image Tests/CAMCoreTests/Image/Fixtures/*.png Tests/CAMCoreTests/Image/Fixtures/*.jpg demo/*.png ;;
  esac
  run $t
done

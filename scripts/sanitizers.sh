#!/usr/bin/env bash
# The test suite under AddressSanitizer and ThreadSanitizer (each in its own build folder).
# Not part of CI: each takes a full instrumented build.
#   scripts/sanitizers.sh [address|thread|both] [extra swift test arguments, e.g. --filter X]
set -euo pipefail
cd "$(dirname "$0")/.."
WHICH="${1:-both}"; shift || true
if [ "$WHICH" = address ] || [ "$WHICH" = both ]; then
  echo "=== AddressSanitizer"
  # LeakSanitizer runs at the exit of the test process and of every `swiftcam` it starts;
  # XCTest's own records, kept until exit, are suppressed.
  LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt" swift test -c release --sanitize=address --scratch-path .build-asan "$@"
fi
if [ "$WHICH" = thread ] || [ "$WHICH" = both ]; then
  echo "=== ThreadSanitizer (OpenBLAS runs single-threaded: its pool is not instrumented)"
  OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS="suppressions=$PWD/scripts/tsan-suppressions.txt" \
      swift test -c release --sanitize=thread --scratch-path .build-tsan "$@"
fi

#!/usr/bin/env bash
# The test suite, in release mode (numeric tests are 10–100× slower in debug builds).
# Tests that compare against reference outputs read ../shared/fixtures (skipped when absent).
# With no arguments, the runtime's own tests then run again with the C kernels' AVX2 and
# portable variants (SWIFTCAM_KERNELS), so that CPUs without AVX-512 are covered too.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --build-tests
swift test -c release --skip-build "$@"
if [ $# -eq 0 ]; then
    for level in avx2 baseline; do
        echo "=== CAMCoreTests with SWIFTCAM_KERNELS=$level"
        SWIFTCAM_KERNELS=$level swift test -c release --skip-build --filter CAMCoreTests
    done
fi

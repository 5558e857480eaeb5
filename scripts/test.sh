#!/usr/bin/env bash
# The test suite, in release mode (numeric tests are 10–100× slower in debug builds).
# Tests that compare against reference outputs read ../shared/fixtures (skipped when absent).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --build-tests
swift test -c release --skip-build "$@"

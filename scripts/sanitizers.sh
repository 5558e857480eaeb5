#!/usr/bin/env bash
# The test suite under AddressSanitizer (with LeakSanitizer) and ThreadSanitizer, each in its
# own build folder. Not part of CI: each takes a full instrumented build and 15 minutes to hours.
#   scripts/sanitizers.sh [address|thread|thread-swift|both] [extra swift test arguments, e.g. --filter X]
#
# `thread-swift` is ThreadSanitizer with the C kernels left uninstrumented (Swift code, Dispatch
# and the plugins still are): the fixture suites (CAMMethodTests) spend hours in instrumented
# kernels otherwise. The kernels themselves are covered by `thread --filter CAMCoreTests`.
#
# The Keras tests feed libhdf5 the malformed files of Fuzz/hdf5-crashes, which crash inside
# libhdf5 itself; SwiftCAM reads HDF5 in a child process so that such a crash is an error, not
# the end of the run. Under AddressSanitizer those crashes are reported as they happen, in the
# child: they are counted apart, and only reports with no libhdf5 frame fail the run.
set -u
cd "$(dirname "$0")/.."
WHICH="${1:-both}"; shift || true
status=0

# Each instrumented process writes its reports to a file of its own (log_path): those with a
# libhdf5 frame are the known crashes; any other fails the run.
summarise() {
    local folder="$1" kind="$2" known=0 other=0
    for report in "$folder"/report.*; do
        [ -e "$report" ] || continue
        # A file may hold no report at all, only the list of suppressions used.
        grep -qE "ERROR: |WARNING: ThreadSanitizer" "$report" || continue
        if grep -q libhdf5 "$report"; then known=$((known + 1)); else other=$((other + 1)); cat "$report"; fi
    done
    echo "$kind: $known process(es) with reports inside libhdf5 (known, contained in the reader process), $other with reports elsewhere"
    [ "$other" = 0 ]
}

if [ "$WHICH" = address ] || [ "$WHICH" = both ]; then
  rm -rf .build-asan/reports && mkdir -p .build-asan/reports
  echo "=== AddressSanitizer"
  # LeakSanitizer runs at the exit of the test process and of every `swiftcam` it starts;
  # XCTest's own records, kept until exit, are suppressed.
  ASAN_OPTIONS="log_path=$PWD/.build-asan/reports/report" LSAN_OPTIONS="suppressions=$PWD/scripts/lsan-suppressions.txt" \
      swift test -c release --sanitize=address --scratch-path .build-asan "$@" || { echo "AddressSanitizer: tests failed"; status=1; }
  summarise .build-asan/reports AddressSanitizer || status=1
fi
# ThreadSanitizer in build folder $1, with the extra build flags that follow.
thread_sanitizer() {
  local folder="$1"; shift
  rm -rf "$folder/reports" && mkdir -p "$folder/reports"
  echo "=== ThreadSanitizer in $folder (OpenBLAS runs single-threaded: its pool is not instrumented)"
  OPENBLAS_NUM_THREADS=1 TSAN_OPTIONS="suppressions=$PWD/scripts/tsan-suppressions.txt log_path=$PWD/$folder/reports/report" \
      swift test -c release --sanitize=thread --scratch-path "$folder" "$@" || { echo "ThreadSanitizer: tests failed"; status=1; }
  summarise "$folder/reports" ThreadSanitizer || status=1
}
if [ "$WHICH" = thread ] || [ "$WHICH" = both ]; then thread_sanitizer .build-tsan "$@"; fi
if [ "$WHICH" = thread-swift ]; then thread_sanitizer .build-tsan-swift -Xcc -fno-sanitize=thread "$@"; fi
exit $status

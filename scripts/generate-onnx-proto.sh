#!/usr/bin/env bash
# Regenerates the ONNXProto C target from Schemas/onnx.proto with protoc-c.
#
#   Schemas/onnx.proto  --protoc-c-->  Plugins/ONNXImporter/ONNXProto/include/onnx.pb-c.h
#                                      Plugins/ONNXImporter/ONNXProto/onnx.pb-c.c
#
# The generated files are committed, so a build never needs protoc-c; run this only after
# changing the schema or moving to another protobuf-c release. Safe to re-run: it generates
# into a temporary folder and only replaces a file whose content changed.
#
# Needs: protoc-c (Debian: apt-get install -y protobuf-c-compiler libprotobuf-c-dev).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
schema_dir="$root/Schemas"
schema="$schema_dir/onnx.proto"
target="$root/Plugins/ONNXImporter/ONNXProto"

if ! command -v protoc-c >/dev/null 2>&1; then
    echo "error: protoc-c not found; install it with: apt-get install -y protobuf-c-compiler libprotobuf-c-dev" >&2
    exit 1
fi
if [[ ! -f "$schema" ]]; then
    echo "error: schema $schema is missing" >&2
    exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "protoc-c:  $(command -v protoc-c) ($(protoc-c --version 2>&1 | head -n 1))"
echo "schema:    ${schema#"$root"/} (sha256 $(sha256sum "$schema" | cut -d' ' -f1))"
protoc-c --proto_path="$schema_dir" --c_out="$tmp" "$schema"

mkdir -p "$target/include"
place() { # place GENERATED DESTINATION
    local src="$1" dst="$2"
    if [[ -f "$dst" ]] && cmp -s "$src" "$dst"; then
        echo "unchanged: ${dst#"$root"/}"
    else
        cp "$src" "$dst"
        echo "written:   ${dst#"$root"/} ($(wc -c <"$dst") bytes)"
    fi
}
place "$tmp/onnx.pb-c.h" "$target/include/onnx.pb-c.h"
place "$tmp/onnx.pb-c.c" "$target/onnx.pb-c.c"
echo "done: link the C target with libprotobuf-c (linkerSettings: [.linkedLibrary(\"protobuf-c\")])"

/*
 * Hand-written companion to the generated onnx.pb-c.h (not produced by protoc-c, so
 * scripts/generate-onnx-proto.sh leaves it alone).
 *
 * Swift imports the generated `extern const ProtobufCMessageDescriptor` globals by value, so it
 * cannot take their addresses reliably. These accessors hand Swift the real addresses, which the
 * pre-parse wire scan (ProtobufPreflight.swift) needs to walk nested messages by descriptor.
 */
#ifndef ONNX_PROTO_SUPPORT_H
#define ONNX_PROTO_SUPPORT_H

#include "onnx.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Address of `onnx__model_proto__descriptor` (ModelProto). */
const ProtobufCMessageDescriptor *onnx_support_model_descriptor(void);
/** Address of `onnx__tensor_proto__descriptor` (TensorProto). */
const ProtobufCMessageDescriptor *onnx_support_tensor_descriptor(void);
/** Address of `onnx__node_proto__descriptor` (NodeProto), to count nodes before unpacking. */
const ProtobufCMessageDescriptor *onnx_support_node_descriptor(void);

#ifdef __cplusplus
}
#endif

#endif /* ONNX_PROTO_SUPPORT_H */

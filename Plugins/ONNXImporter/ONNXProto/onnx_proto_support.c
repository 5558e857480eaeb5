/* Hand-written; see include/onnx_proto_support.h. */
#include "onnx_proto_support.h"

const ProtobufCMessageDescriptor *onnx_support_model_descriptor(void) {
    return &onnx__model_proto__descriptor;
}

const ProtobufCMessageDescriptor *onnx_support_tensor_descriptor(void) {
    return &onnx__tensor_proto__descriptor;
}

const ProtobufCMessageDescriptor *onnx_support_node_descriptor(void) {
    return &onnx__node_proto__descriptor;
}

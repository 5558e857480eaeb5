// A CAM method built outside the SwiftCAM package, as a researcher would ship one:
//
//   swiftc -emit-library -module-name MaxActivationCAM \
//       -I <build>/Modules -L <build> -lCAMCore -Xlinker -rpath -Xlinker '$ORIGIN' \
//       -o libswiftcam-maxactivation.so MaxActivationCAM.swift
//   SWIFTCAM_PLUGIN_PATH=$PWD swiftcam plugins
//
// where <build> is SwiftCAM's build folder (e.g. .build/release). The method weights every
// channel by its largest activation — no gradients needed.
import CAMCore

final class MaxActivationCAM: ChannelWeightedCAM {
    let name = "maxactivation"
    let summary = "channels weighted by their maximum activation (an example third-party plugin)"
    func requirements(options: CAMOptions) throws -> CAMRequirements { CAMRequirements(layerGradients: false) }

    func channelWeights(_ layer: CAMContext.Layer, context: CAMContext) throws -> Tensor {
        let (n, c) = (layer.activations.shape[0], layer.activations.shape[1])
        let plane = layer.activations.count / (n * c)
        let values = layer.activations.toFloats()
        let weights = (0..<(n * c)).map { i in values[(i * plane)..<((i + 1) * plane)].max() ?? 0 }
        return Tensor(shape: [n, c], floats: weights)
    }
}

@_cdecl("swiftcam_plugin_abi_version")
public func swiftcamPluginABIVersion() -> UInt32 { PluginABI.version }

@_cdecl("swiftcam_plugin_register")
public func swiftcamPluginRegister(_ registrar: UnsafeMutableRawPointer) {
    PluginRegistrar.from(registrar).register(method: MaxActivationCAM())
}

import CAMCore

@_cdecl("swiftcam_plugin_abi_version")
public func swiftcamPluginABIVersion() -> UInt32 { PluginABI.version }

@_cdecl("swiftcam_plugin_register")
public func swiftcamPluginRegister(_ registrar: UnsafeMutableRawPointer) {
    let r = PluginRegistrar.from(registrar)
    r.register(target: SegmentationTargetFactory())
    r.register(target: BoxScoreTargetFactory())
    r.register(target: OutputEntriesTargetFactory())
}

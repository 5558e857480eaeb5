import CAMCore

@_cdecl("swiftcam_plugin_abi_version")
public func swiftcamPluginABIVersion() -> UInt32 { PluginABI.version }

@_cdecl("swiftcam_plugin_register")
public func swiftcamPluginRegister(_ registrar: UnsafeMutableRawPointer) {
    let r = PluginRegistrar.from(registrar)
    r.register(metric: ROADRemoval(.mostRelevantFirst))
    r.register(metric: ROADRemoval(.leastRelevantFirst))
    r.register(metric: ROADAverage(.mostRelevantFirst))
    r.register(metric: ROADAverage(.leastRelevantFirst))
    r.register(metric: ROADCombined())
}

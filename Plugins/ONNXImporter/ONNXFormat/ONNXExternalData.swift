import CAMCore

/// Loads tensor data that an ONNX file keeps outside itself (`data_location: EXTERNAL`), as
/// `onnx.save(..., save_as_external_data=True)` writes for models over 2 GiB.
///
/// Each tensor's `external_data` entries name a file (`location`, relative to the model's
/// folder), a byte `offset` (default 0) and a `length` (default: the tensor's size); `checksum`
/// and keys from newer writers are ignored. Checked before the tensor is allocated: `location`
/// is relative and does not climb out of the model's folder (no absolute path, no `..`; symbolic
/// links are followed, as in the Hugging Face cache layout), the file is a regular file, offset
/// and length are decimal numbers, `length` equals the tensor's byte size exactly, and
/// `offset + length` lies within the file.
struct ONNXExternalData: Sendable {
    /// The folder `location`s are relative to (the model's folder); `nil` when the bytes did not
    /// come from a file, in which case external data cannot be loaded.
    let baseDirectory: String?

    /// An external file region checked to hold exactly the tensor's bytes, ready to read.
    struct Region {
        let file: OpenFile
        let offset: Int
        let byteCount: Int

        /// Reads the region into `destination` (`byteCount` bytes) and closes the file.
        func read(into destination: UnsafeMutableRawPointer) throws {
            defer { file.close() }
            try file.read(into: destination, count: byteCount, at: offset)
        }

        /// Closes the file without reading.
        func close() { file.close() }
    }

    /// Validates the tensor's `external_data` entries against the file they name, before the
    /// caller allocates anything. `label` names the tensor in errors (already prefixed with the
    /// model file); `byteCount` is the tensor's size from its dims and type.
    func locate(_ entries: [(key: String, value: String)], label: String, tensorName: String,
                byteCount: Int) throws -> Region {
        var location: String?
        var offsetText: String?
        var lengthText: String?
        for (key, value) in entries {
            switch key {
            case "location": location = value
            case "offset": offsetText = value
            case "length": lengthText = value
            default: break  // "checksum" and keys from newer writers are not needed to read the data
            }
        }
        guard let location, !location.isEmpty else {
            throw CAMError(.invalidModel, "\(label) stores its data in an external file but external_data has no 'location'")
        }
        let components = location.split(separator: "/", omittingEmptySubsequences: true)
        guard !location.hasPrefix("/"), !components.contains("..") else {
            throw CAMError(.invalidModel, "\(label): external data location '\(location)' is outside the model's folder;"
                + " expected a relative path without '..'")
        }
        guard let baseDirectory else {
            throw CAMError(.unsupported, "\(label) stores its data in an external file ('\(location)') and the model was"
                + " given as bytes, so there is no folder to find it in; load the model from its file instead,"
                + " or re-save it with onnx.save(model, path, save_as_external_data=False)")
        }
        let offset = try Self.number(offsetText, key: "offset", label: label) ?? 0
        if let length = try Self.number(lengthText, key: "length", label: label), length != byteCount {
            throw CAMError(.invalidModel, "\(label): external data length is \(length) bytes, expected \(byteCount) for its dims and type")
        }
        let path = baseDirectory.isEmpty ? location : baseDirectory + "/" + location
        let file = try OpenFile(path: path, what: "external data file for tensor '\(tensorName)'")
        let (end, overflow) = offset.addingReportingOverflow(byteCount)
        guard !overflow, end <= file.size else {
            file.close()
            throw CAMError(.invalidModel, "\(label): external data at offset \(offset) with length \(byteCount) runs past the end of \(path) (\(file.size) bytes)")
        }
        return Region(file: file, offset: offset, byteCount: byteCount)
    }

    private static func number(_ text: String?, key: String, label: String) throws -> Int? {
        guard let text else { return nil }
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let value = Int(text) else {
            throw CAMError(.invalidModel, "\(label): external data '\(key)' is '\(text)'; expected a non-negative decimal number")
        }
        return value
    }
}

import CAMCore
import CHDF5
import Foundation

/// A read-only HDF5 file, through libhdf5: string attributes and float datasets, the two things
/// a Keras `.h5` model holds. Every HDF5 failure becomes a `CAMError` naming the file and the
/// object; nothing is printed (HDF5's automatic error printing is switched off), nothing traps.
///
/// libhdf5's serial build is not thread-safe: every call goes through one process-wide lock.
public final class HDF5File {
    /// What `read` refuses to allocate for one dataset (elements).
    public static let maxDatasetElements = 1 << 31

    public let path: String
    private let file: hid_t

    private static let lock = NSLock()
    private static let silenced: Void = { cam_h5_silence() }()

    /// Runs `body` holding the HDF5 lock.
    static func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        _ = silenced
        return try body()
    }

    /// The HDF5 error stack's innermost message, for error texts ("" when there is none).
    static func lastError() -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        cam_h5_last_error(&buffer, buffer.count)
        let text = Self.string(buffer)
        return text.isEmpty ? "" : ": \(text)"
    }

    /// Opens `path` read-only. Fails with a clear message for a missing file, a directory, and a
    /// file that is not HDF5 (or is truncated or damaged).
    public init(path: String) throws {
        self.path = path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CAMError(.io, "\(path): no such file")
        }
        if isDirectory.boolValue { throw CAMError(.io, "cannot read model file \(path): it is a directory") }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw CAMError(.io, "cannot read model file \(path): permission denied")
        }
        file = try Self.locked {
            let isHDF5 = H5Fis_hdf5(path)
            if isHDF5 == 0 {
                _ = Self.lastError()
                throw CAMError(.invalidModel, "\(path) is not an HDF5 file (no HDF5 signature); a Keras model must be saved with model.save('model.h5')")
            }
            // A close that waits for nothing: closing the file closes every object still open in it.
            let fapl = H5Pcreate(cam_h5p_file_access())
            defer { if fapl >= 0 { H5Pclose(fapl) } }
            if fapl >= 0 { H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) }
            let id = H5Fopen(path, cam_h5f_acc_rdonly(), fapl >= 0 ? fapl : cam_h5p_default())
            guard isHDF5 > 0, id >= 0 else {
                throw CAMError(.invalidModel, "\(path): cannot open the HDF5 file (truncated or damaged?)\(Self.lastError())")
            }
            return id
        }
    }

    deinit {
        Self.locked { _ = H5Fclose(file) }
    }

    // MARK: Objects

    /// Whether the object at `objectPath` ("/", "model_weights", "a/b/c:0") exists, checking each
    /// link along the way (HDF5 fails, rather than answers no, on a missing intermediate group).
    public func exists(_ objectPath: String) -> Bool {
        let parts = Self.components(objectPath)
        if parts.isEmpty { return true }
        return Self.locked {
            var prefix = ""
            for part in parts {
                prefix += (prefix.isEmpty ? "" : "/") + part
                let r = H5Lexists(file, prefix, cam_h5p_default())
                if r <= 0 { _ = Self.lastError(); return false }
            }
            return true
        }
    }

    /// Whether the object at `objectPath` is a group.
    public func isGroup(_ objectPath: String) -> Bool {
        guard exists(objectPath) else { return false }
        return Self.locked {
            let id = H5Oopen(file, Self.normalized(objectPath), cam_h5p_default())
            guard id >= 0 else { _ = Self.lastError(); return false }
            defer { H5Oclose(id) }
            return H5Iget_type(id) == H5I_GROUP
        }
    }

    static func components(_ path: String) -> [String] {
        path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
    }

    static func normalized(_ path: String) -> String {
        let parts = components(path)
        return parts.isEmpty ? "/" : parts.joined(separator: "/")
    }

    /// Opens an object (group or dataset) for the duration of `body`.
    private func withObject<T>(_ objectPath: String, _ body: (hid_t) throws -> T) throws -> T {
        let name = Self.normalized(objectPath)
        let id = H5Oopen(file, name, cam_h5p_default())
        guard id >= 0 else {
            throw CAMError(.invalidModel, "\(path): cannot open HDF5 object '\(name)'\(Self.lastError())")
        }
        defer { H5Oclose(id) }
        return try body(id)
    }

    // MARK: Attributes

    /// A string attribute as a list of strings: a scalar string is one element; an array of
    /// fixed- or variable-length strings its elements; an empty array of any type (h5py writes
    /// an empty list as an empty float64 array) is empty. `nil` when the attribute is absent.
    public func stringsAttribute(_ name: String, of objectPath: String) throws -> [String]? {
        try Self.locked {
            try withObject(objectPath) { obj in
                let present = H5Aexists(obj, name)
                if present < 0 {
                    throw CAMError(.invalidModel, "\(path): cannot read attribute '\(name)' of '\(objectPath)'\(Self.lastError())")
                }
                if present == 0 { return nil }
                let attr = H5Aopen(obj, name, cam_h5p_default())
                guard attr >= 0 else {
                    throw CAMError(.invalidModel, "\(path): cannot open attribute '\(name)' of '\(objectPath)'\(Self.lastError())")
                }
                defer { H5Aclose(attr) }
                return try readStrings(attr, what: "attribute '\(name)' of '\(Self.normalized(objectPath))'")
            }
        }
    }

    /// Reads all elements of a string attribute (lock held).
    private func readStrings(_ attr: hid_t, what: String) throws -> [String] {
        let type = H5Aget_type(attr)
        let space = H5Aget_space(attr)
        defer {
            if type >= 0 { H5Tclose(type) }
            if space >= 0 { H5Sclose(space) }
        }
        guard type >= 0, space >= 0 else {
            throw CAMError(.invalidModel, "\(path): cannot read the type of \(what)\(Self.lastError())")
        }
        let points = H5Sget_simple_extent_npoints(space)
        guard points >= 0, points <= 1 << 24 else {
            throw CAMError(.invalidModel, "\(path): \(what) has an invalid number of elements (\(points))")
        }
        let count = Int(points)
        let typeClass = H5Tget_class(type)
        if count == 0 { return [] }
        guard typeClass == H5T_STRING else {
            throw CAMError(.invalidModel, "\(path): \(what) should hold strings but holds \(Self.className(typeClass)) values")
        }
        let memType = H5Tcopy(cam_h5t_c_s1())
        guard memType >= 0 else { throw CAMError(.invalidModel, "\(path): HDF5 type error\(Self.lastError())") }
        defer { H5Tclose(memType) }
        _ = H5Tset_cset(memType, H5Tget_cset(type))
        if H5Tis_variable_str(type) > 0 {
            _ = H5Tset_size(memType, cam_h5t_variable())
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            let status = pointers.withUnsafeMutableBufferPointer { H5Aread(attr, memType, $0.baseAddress) }
            guard status >= 0 else {
                throw CAMError(.invalidModel, "\(path): cannot read \(what)\(Self.lastError())")
            }
            defer { pointers.withUnsafeMutableBufferPointer { cam_h5_free_strings($0.baseAddress, count) } }
            return pointers.map { $0.map { String(cString: $0) } ?? "" }
        }
        let size = H5Tget_size(type)
        guard size > 0, size <= 1 << 26, count.multipliedReportingOverflow(by: size).partialValue <= 1 << 28 else {
            throw CAMError(.invalidModel, "\(path): \(what) has strings of an invalid size (\(size) bytes × \(count))")
        }
        _ = H5Tset_size(memType, size)
        _ = H5Tset_strpad(memType, H5T_STR_NULLPAD)
        var bytes = [UInt8](repeating: 0, count: count * size)
        let status = bytes.withUnsafeMutableBytes { H5Aread(attr, memType, $0.baseAddress) }
        guard status >= 0 else {
            throw CAMError(.invalidModel, "\(path): cannot read \(what)\(Self.lastError())")
        }
        return (0..<count).map { i in
            let slice = bytes[(i * size)..<((i + 1) * size)]
            let end = slice.firstIndex(of: 0) ?? slice.endIndex
            return String(decoding: slice[slice.startIndex..<end], as: UTF8.self).trimmingCharacters(in: .init(charactersIn: " "))
        }
    }

    /// A NUL-terminated C buffer as a String (invalid UTF-8 repaired).
    static func string(_ buffer: [CChar]) -> String {
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func className(_ c: H5T_class_t) -> String {
        switch c {
        case H5T_INTEGER: return "integer"
        case H5T_FLOAT: return "floating-point"
        case H5T_STRING: return "string"
        case H5T_COMPOUND: return "compound"
        case H5T_ENUM: return "enum"
        case H5T_ARRAY: return "array"
        case H5T_VLEN: return "variable-length"
        case H5T_REFERENCE: return "reference"
        case H5T_OPAQUE: return "opaque"
        case H5T_BITFIELD: return "bitfield"
        default: return "unknown"
        }
    }

    // MARK: Datasets

    /// The shape of a dataset.
    public func datasetShape(_ objectPath: String) throws -> [Int] {
        try Self.locked {
            let ds = try openDataset(objectPath)
            defer { H5Dclose(ds) }
            return try shape(of: ds, objectPath)
        }
    }

    private func openDataset(_ objectPath: String) throws -> hid_t {
        let name = Self.normalized(objectPath)
        let ds = H5Dopen2(file, name, cam_h5p_default())
        guard ds >= 0 else {
            throw CAMError(.invalidModel, "\(path): cannot open dataset '\(name)'\(Self.lastError())")
        }
        return ds
    }

    private func shape(of ds: hid_t, _ objectPath: String) throws -> [Int] {
        let space = H5Dget_space(ds)
        guard space >= 0 else { throw CAMError(.invalidModel, "\(path): cannot read the shape of '\(objectPath)'\(Self.lastError())") }
        defer { H5Sclose(space) }
        let rank = H5Sget_simple_extent_ndims(space)
        guard rank >= 0, rank <= 32 else {
            throw CAMError(.invalidModel, "\(path): dataset '\(objectPath)' has an invalid rank (\(rank))")
        }
        var dims = [hsize_t](repeating: 0, count: Int(rank))
        if rank > 0 {
            guard H5Sget_simple_extent_dims(space, &dims, nil) >= 0 else {
                throw CAMError(.invalidModel, "\(path): cannot read the shape of '\(objectPath)'\(Self.lastError())")
            }
        }
        return try dims.map { d in
            guard d <= UInt64(Self.maxDatasetElements) else {
                throw CAMError(.invalidModel, "\(path): dataset '\(objectPath)' has a dimension of \(d), over the limit of \(Self.maxDatasetElements)")
            }
            return Int(d)
        }
    }

    /// Reads a numeric dataset as float32 (HDF5 converts float16/float64/integers), after
    /// checking its type, that its size is within limits, and that the file holds its bytes.
    public func readFloats(_ objectPath: String) throws -> Tensor {
        try Self.locked {
            let ds = try openDataset(objectPath)
            defer { H5Dclose(ds) }
            let type = H5Dget_type(ds)
            guard type >= 0 else { throw CAMError(.invalidModel, "\(path): cannot read the type of '\(objectPath)'\(Self.lastError())") }
            let typeClass = H5Tget_class(type)
            let elementSize = H5Tget_size(type)
            H5Tclose(type)
            guard typeClass == H5T_FLOAT || typeClass == H5T_INTEGER else {
                throw CAMError(.invalidModel, "\(path): dataset '\(objectPath)' holds \(Self.className(typeClass)) values, not numbers")
            }
            let dims = try shape(of: ds, objectPath)
            var count = 1
            for d in dims {
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, p <= Self.maxDatasetElements else {
                    throw CAMError(.invalidModel, "\(path): dataset '\(objectPath)' of shape \(dims) has more than \(Self.maxDatasetElements) elements")
                }
                count = p
            }
            // A contiguous dataset's bytes must be in the file (a truncated file fails here, not in a read).
            var layout = H5D_LAYOUT_ERROR
            let plist = H5Dget_create_plist(ds)
            if plist >= 0 { layout = H5Pget_layout(plist); H5Pclose(plist) }
            if layout == H5D_CONTIGUOUS, count > 0 {
                let stored = H5Dget_storage_size(ds)
                let needed = UInt64(count) * UInt64(elementSize)
                if stored < needed {
                    _ = Self.lastError()
                    throw CAMError(.invalidModel, "\(path): dataset '\(objectPath)' of shape \(dims) needs \(needed) bytes but the file stores \(stored)")
                }
            }
            let tensor = Tensor(zeros: dims)
            if count == 0 { return tensor }
            let status = H5Dread(ds, cam_h5t_native_float(), cam_h5s_all(), cam_h5s_all(), cam_h5p_default(), tensor.mutableFloats.baseAddress)
            guard status >= 0 else {
                throw CAMError(.invalidModel, "\(path): cannot read dataset '\(objectPath)' (truncated or damaged file?)\(Self.lastError())")
            }
            return tensor
        }
    }
}

import CAMCore
import CHDF5
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A read-only HDF5 file: string attributes and float datasets, the two things a Keras `.h5`
/// model holds.
///
/// libhdf5 runs in a reader process of its own (`cam_h5_spawn`, see `CHDF5.h`): a damaged or
/// crafted file that makes libhdf5 crash or write out of bounds ends that process, and this
/// side reports it as a `CAMError`; libhdf5's lack of thread safety never meets SwiftCAM's
/// threads. Every failure names the file and the object; nothing is printed.
public final class HDF5File {
    /// What `readFloats` accepts for one dataset (elements; checked before allocating).
    public static let maxDatasetElements = Int(CAM_H5_MAX_ELEMENTS)
    /// How long the reader may go without answering before it is considered hung (libhdf5
    /// loops forever on some damaged files): 60 s, or `SWIFTCAM_HDF5_TIMEOUT` seconds.
    public static var requestTimeout: TimeInterval {
        ProcessInfo.processInfo.environment["SWIFTCAM_HDF5_TIMEOUT"].flatMap(TimeInterval.init).flatMap { $0 > 0 ? $0 : nil } ?? 60
    }

    public let path: String
    private var pid: pid_t = 0
    private var socket: Int32 = -1
    private var failure: CAMError?

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
        var child: pid_t = 0, fd: Int32 = -1
        guard cam_h5_spawn(path, &child, &fd) == 0 else {
            throw CAMError(.io, "\(path): cannot start the HDF5 reader process: \(String(cString: strerror(errno)))")
        }
        pid = child
        socket = fd
        let status = try receiveStatus(what: "opening the file")
        switch status.code {
        case 1: return
        case Int32(CAM_H5_NOT_HDF5):
            throw CAMError(.invalidModel, "\(path) is not an HDF5 file (no HDF5 signature); a Keras model must be saved with model.save('model.h5')")
        default:
            throw CAMError(.invalidModel, "\(path): \(status.message ?? "cannot open the HDF5 file")")
        }
    }

    deinit {
        if socket >= 0 { close(socket) }
        if pid > 0 {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
    }

    // MARK: Objects

    /// Whether the object at `objectPath` ("/", "model_weights", "a/b/c:0") exists.
    public func exists(_ objectPath: String) throws -> Bool {
        try request(UInt32(CAM_H5_OP_EXISTS), Self.normalized(objectPath), what: "looking up '\(objectPath)'").code == 1
    }

    /// Whether the object at `objectPath` is a group.
    public func isGroup(_ objectPath: String) throws -> Bool {
        try request(UInt32(CAM_H5_OP_IS_GROUP), Self.normalized(objectPath), what: "looking up '\(objectPath)'").code == 1
    }

    static func normalized(_ path: String) -> String {
        let parts = path.split(separator: "/", omittingEmptySubsequences: true)
        return parts.isEmpty ? "/" : parts.joined(separator: "/")
    }

    // MARK: Attributes

    /// A string attribute as a list of strings: a scalar string is one element; an array of
    /// fixed- or variable-length strings its elements; an empty array of any type (h5py writes
    /// an empty list as an empty float64 array) is empty. `nil` when the attribute is absent.
    public func stringsAttribute(_ name: String, of objectPath: String) throws -> [String]? {
        let object = Self.normalized(objectPath)
        let what = "attribute '\(name)' of '\(object)'"
        let status = try request(UInt32(CAM_H5_OP_STRINGS), object, name, what: "reading \(what)")
        switch status.code {
        case 0: return nil
        case 1:
            let count = Int(try receive(UInt32.self, what: what))
            guard count <= 1 << 24 else { throw protocolError(what) }
            return try (0..<count).map { _ in
                let length = Int(try receive(UInt32.self, what: what))
                guard length <= 1 << 28 else { throw protocolError(what) }
                let bytes = try receiveBytes(length, what: what)
                return String(decoding: bytes, as: UTF8.self)
            }
        default:
            throw CAMError(.invalidModel, "\(path): \(what): \(status.message ?? "cannot be read")")
        }
    }

    // MARK: Datasets

    /// Reads a numeric dataset as float32 (libhdf5 converts float16/float64/integers), after
    /// checking its type, that its size is within limits, and that the file holds its bytes.
    public func readFloats(_ objectPath: String) throws -> Tensor {
        let object = Self.normalized(objectPath)
        let what = "dataset '\(object)'"
        let status = try request(UInt32(CAM_H5_OP_FLOATS), object, what: "reading \(what)")
        guard status.code == 1 else {
            throw CAMError(.invalidModel, "\(path): \(what) \(status.message ?? "cannot be read")")
        }
        let rank = Int(try receive(UInt32.self, what: what))
        guard rank <= 32 else { throw protocolError(what) }
        var shape: [Int] = []
        var count = 1
        for _ in 0..<rank {
            let d = try receive(UInt64.self, what: what)
            guard d <= UInt64(Self.maxDatasetElements) else { throw protocolError(what) }
            shape.append(Int(d))
            let (p, overflow) = count.multipliedReportingOverflow(by: Int(d))
            guard !overflow, p <= Self.maxDatasetElements else { throw protocolError(what) }
            count = p
        }
        let tensor = Tensor(zeros: shape)
        if count > 0 {
            try receive(into: UnsafeMutableRawPointer(tensor.mutableFloats.baseAddress!), count * MemoryLayout<Float>.size, what: what)
        }
        return tensor
    }

    // MARK: The conversation with the reader

    private struct Status { var code: Int32; var message: String? }

    private func protocolError(_ what: String) -> CAMError {
        CAMError(.invalidModel, "\(path): the HDF5 reader sent a malformed answer while reading \(what)")
    }

    private func request(_ op: UInt32, _ a: String, _ b: String = "", what: String) throws -> Status {
        if let failure { throw failure }
        var message = Data()
        func append<T>(_ v: T) { withUnsafeBytes(of: v) { message.append(contentsOf: $0) } }
        append(op)
        append(UInt32(a.utf8.count)); message.append(contentsOf: Array(a.utf8))
        append(UInt32(b.utf8.count)); message.append(contentsOf: Array(b.utf8))
        try message.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = send(socket, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { throw readerDied(what) }
                offset += n
            }
        }
        return try receiveStatus(what: what)
    }

    private func receiveStatus(what: String) throws -> Status {
        let code = try receive(Int32.self, what: what)
        if code >= 0 { return Status(code: code, message: nil) }
        let length = Int(try receive(UInt32.self, what: what))
        guard length <= 1 << 16 else { throw protocolError(what) }
        let text = String(decoding: try receiveBytes(length, what: what), as: UTF8.self)
        return Status(code: code, message: text.isEmpty ? nil : text)
    }

    private func receive<T: FixedWidthInteger>(_ type: T.Type, what: String) throws -> T {
        var value = T.zero
        try withUnsafeMutableBytes(of: &value) { try receive(into: $0.baseAddress!, $0.count, what: what) }
        return value
    }

    private func receiveBytes(_ count: Int, what: String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        if count > 0 { try bytes.withUnsafeMutableBytes { try receive(into: $0.baseAddress!, count, what: what) } }
        return bytes
    }

    private func receive(into buffer: UnsafeMutableRawPointer, _ count: Int, what: String) throws {
        var offset = 0
        while offset < count {
            var poller = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(Self.requestTimeout * 1000))
            if ready < 0 && errno == EINTR { continue }
            if ready == 0 {
                kill(pid, SIGKILL)
                failure = CAMError(.invalidModel, "\(path): libhdf5 did not finish \(what) within \(Self.requestTimeout) s and was stopped (a damaged file makes it loop; SWIFTCAM_HDF5_TIMEOUT sets the limit)")
                throw failure!
            }
            let n = recv(socket, buffer + offset, count - offset, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw readerDied(what) }
            offset += n
        }
    }

    /// The reader process is gone: how it ended, as an error (and every later request fails too).
    private func readerDied(_ what: String) -> CAMError {
        var status: Int32 = 0
        var how = "ended unexpectedly"
        if pid > 0, waitpid(pid, &status, 0) == pid {
            pid = 0
            let signal = status & 0x7f
            if signal != 0 { how = "crashed (signal \(signal))" } else { how = "exited (status \((status >> 8) & 0xff))" }
        }
        let error = CAMError(.invalidModel, "\(path): libhdf5 \(how) while \(what): the file's HDF5 structures are damaged")
        failure = error
        return error
    }
}

import CAMCore
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads files with their size checked before anything is allocated: only regular files (not
/// FIFOs or devices such as `/dev/zero`), at most a given number of bytes, and exactly the
/// number of bytes `fstat` reported.
enum BoundedFileReader {
    /// The whole of `path`. `what` names the file in errors ("model file", "tensor file").
    static func readAll(path: String, maxBytes: Int, what: String) throws -> Data {
        let file = try OpenFile(path: path, what: what)
        defer { file.close() }
        let size = file.size
        guard size <= maxBytes else {
            throw CAMError(.invalidModel, "\(what) \(path) is \(size) bytes, over the limit of \(maxBytes) bytes"
                + " (a protobuf message cannot exceed 2 GiB; larger ONNX models keep their weights in external data files)")
        }
        var data = Data(count: size)
        try data.withUnsafeMutableBytes { buf in
            guard let base = buf.baseAddress else { return }
            try file.read(into: base, count: size, at: 0)
        }
        return data
    }
}

/// An open, regular file, with its size taken once at open.
struct OpenFile {
    let path: String
    let what: String
    let fd: Int32
    let size: Int

    init(path: String, what: String) throws {
        self.path = path
        self.what = what
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw CAMError(.io, "cannot open \(what) \(path): \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let message = String(cString: strerror(errno))
            _ = closeDescriptor(fd)
            throw CAMError(.io, "cannot read \(what) \(path): \(message)")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            _ = closeDescriptor(fd)
            let kind = (st.st_mode & S_IFMT) == S_IFDIR ? "a directory" : "not a regular file"
            throw CAMError(.io, "cannot read \(what) \(path): it is \(kind)")
        }
        self.fd = fd
        self.size = Int(st.st_size)
    }

    /// Reads exactly `count` bytes starting at byte `offset` into `destination`.
    func read(into destination: UnsafeMutableRawPointer, count: Int, at offset: Int) throws {
        var done = 0
        while done < count {
            let n = pread(fd, destination + done, count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw CAMError(.io, "cannot read \(what) \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                throw CAMError(.io, "cannot read \(what) \(path): it ended after \(offset + done) bytes"
                    + " (expected \(offset + count)); was it changed while being read?")
            }
            done += n
        }
    }

    func close() { _ = closeDescriptor(fd) }
}

/// `close(2)`, named so it does not clash with `OpenFile.close()`.
@inline(__always)
private func closeDescriptor(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
    return Glibc.close(fd)
    #elseif canImport(Musl)
    return Musl.close(fd)
    #else
    return Darwin.close(fd)
    #endif
}

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading an import file into memory, within a size limit.
///
/// An import is validated whole before anything is written, so the file, its parsed form and
/// its cases are all in memory at once; a JSON file takes some six times its size once parsed.
/// A file larger than the limit is refused before it is read: by its size on disk when it has
/// one, and for a pipe or device (`/dev/stdin`) by stopping as soon as the limit is passed.
public enum ImportFile {
    /// 64 MiB: some 300,000 cases of JSON or 800,000 rows of CSV, several years of arrivals for
    /// the whole country, while the parsed file stays well within a modest server's memory.
    public static let maxBytes = 64 << 20

    public enum ReadError: Error, Sendable, Equatable, CustomStringConvertible {
        /// It cannot be opened or read; the reason as the system gives it ("No such file or directory").
        case unreadable(String)
        /// It is larger than `limit` bytes; nothing past the limit was read.
        case tooLarge(limit: Int)

        public var description: String {
            switch self {
            case .unreadable(let reason): reason
            case .tooLarge(let limit): "the file is larger than \(ImportFile.describe(bytes: limit)), the most one import reads; split it into smaller files"
            }
        }
    }

    /// The bytes of the file at `path`, or why not. `limit` is a parameter so that a test need
    /// not write 64 MiB.
    public static func contents(atPath path: String, limit: Int = maxBytes) throws(ReadError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw ReadError.unreadable(systemReason(errno)) }
        defer { _ = close(descriptor) }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw ReadError.unreadable(systemReason(errno)) }
        // A regular file says its size; a pipe or a device says 0 and is limited while read.
        let size = Int(status.st_size)
        guard size <= limit else { throw ReadError.tooLarge(limit: limit) }

        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { buffer in read(descriptor, buffer.baseAddress, buffer.count) }
            if count < 0 {
                let code = errno
                if code == EINTR { continue }
                throw ReadError.unreadable(systemReason(code))
            }
            if count == 0 { return bytes }
            // The file may have grown since fstat, or have no size at all.
            guard bytes.count + count <= limit else { throw ReadError.tooLarge(limit: limit) }
            bytes.append(contentsOf: chunk[..<count])
        }
    }

    /// `64 MiB`, `512 KiB`, `100 bytes`, for messages and help texts.
    public static func describe(bytes: Int) -> String {
        if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        if bytes >= 1 << 10 && bytes % (1 << 10) == 0 { return "\(bytes >> 10) KiB" }
        return "\(bytes) bytes"
    }

    private static func systemReason(_ code: Int32) -> String {
        strerror(code).map { String(cString: $0) } ?? "error \(code)"
    }
}

// File calls for the log: open, positional reads and writes, sync, size changes, renames,
// directory entries, memfd for the in-memory mode, and flock for data-directory locking.

import CSystemShims
import Glibc

extension System {
    public struct OpenFlags: OptionSet, Sendable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        public static let readOnly = OpenFlags([])
        public static let readWrite = OpenFlags(rawValue: O_RDWR)
        public static let create = OpenFlags(rawValue: O_CREAT)
        public static let exclusive = OpenFlags(rawValue: O_EXCL)
        public static let truncate = OpenFlags(rawValue: O_TRUNC)
        public static let append = OpenFlags(rawValue: O_APPEND)
        public static let directory = OpenFlags(rawValue: O_DIRECTORY)
    }

    /// Opens with close-on-exec always set.
    public static func open(_ path: String, _ flags: OpenFlags, mode: UInt32 = 0o644) throws(SystemCallError) -> Int32 {
        try retryingInterrupts("open \(path)") { swiftlet_open(path, flags.rawValue | O_CLOEXEC, mode_t(mode)) }
    }

    /// Reads up to `buffer.count` bytes at `offset`; fewer only at end of file.
    public static func pread(_ descriptor: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws(SystemCallError)
        -> Int
    {
        var total = 0
        while total < buffer.count {
            let count = try retryingInterrupts("pread") {
                Glibc.pread(descriptor, buffer.baseAddress! + total, buffer.count - total, off_t(offset) + off_t(total))
            }
            if count == 0 { break }
            total += count
        }
        return total
    }

    /// Writes all of `buffer` at `offset` (looping over short writes).
    public static func pwrite(_ descriptor: Int32, _ buffer: UnsafeRawBufferPointer, at offset: Int64) throws(SystemCallError) {
        var total = 0
        while total < buffer.count {
            let written = try retryingInterrupts("pwrite") {
                Glibc.pwrite(descriptor, buffer.baseAddress! + total, buffer.count - total, off_t(offset) + off_t(total))
            }
            if written == 0 { throw SystemCallError(call: "pwrite (no progress)", errno: EIO) }
            total += written
        }
    }

    /// Linux's UIO_MAXIOV: the most iovecs one call takes.
    static let maximumIOVectors = 1_024

    /// Writes the buffers one after another at `offset`, gathered in one call (short writes,
    /// and more buffers than IOV_MAX, are finished piece by piece).
    public static func pwritev(_ descriptor: Int32, _ buffers: [UnsafeRawBufferPointer], at offset: Int64) throws(SystemCallError) {
        let pieces = buffers.filter { $0.count > 0 }
        let total = pieces.reduce(0) { $0 + $1.count }
        let vectors = pieces.prefix(Self.maximumIOVectors).map {
            iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count)
        }
        var written = try vectors.withUnsafeBufferPointer { vectors throws(SystemCallError) in
            try retryingInterrupts("pwritev") { Glibc.pwritev(descriptor, vectors.baseAddress, Int32(vectors.count), off_t(offset)) }
        }
        guard written < total else { return }
        var skip = written
        for piece in pieces {
            if skip >= piece.count {
                skip -= piece.count
                continue
            }
            let rest = UnsafeRawBufferPointer(rebasing: piece[skip..<piece.count])
            try pwrite(descriptor, rest, at: offset + Int64(written))
            written += rest.count
            skip = 0
        }
    }

    public static func fdatasync(_ descriptor: Int32) throws(SystemCallError) {
        _ = try retryingInterrupts("fdatasync") { Glibc.fdatasync(descriptor) }
    }

    public static func fsync(_ descriptor: Int32) throws(SystemCallError) {
        _ = try retryingInterrupts("fsync") { Glibc.fsync(descriptor) }
    }

    public static func ftruncate(_ descriptor: Int32, length: Int64) throws(SystemCallError) {
        _ = try retryingInterrupts("ftruncate") { Glibc.ftruncate(descriptor, off_t(length)) }
    }

    /// Reserves disk blocks without changing the file size (FALLOC_FL_KEEP_SIZE).
    public static func fallocate(_ descriptor: Int32, offset: Int64, length: Int64) throws(SystemCallError) {
        _ = try retryingInterrupts("fallocate") { swiftlet_fallocate_keep_size(descriptor, offset, length) }
    }

    public static func fileSize(_ descriptor: Int32) throws(SystemCallError) -> Int64 {
        var status = stat()
        _ = try retryingInterrupts("fstat") { Glibc.fstat(descriptor, &status) }
        return Int64(status.st_size)
    }

    /// When the file was last written, in milliseconds since the epoch (fstat's st_mtim).
    public static func modificationMilliseconds(_ descriptor: Int32) throws(SystemCallError) -> Int64 {
        var status = stat()
        _ = try retryingInterrupts("fstat") { Glibc.fstat(descriptor, &status) }
        return Int64(status.st_mtim.tv_sec) * 1_000 + Int64(status.st_mtim.tv_nsec) / 1_000_000
    }

    public static func rename(_ from: String, to: String) throws(SystemCallError) {
        _ = try retryingInterrupts("rename \(from) -> \(to)") { Glibc.rename(from, to) }
    }

    public static func unlink(_ path: String) throws(SystemCallError) {
        _ = try retryingInterrupts("unlink \(path)") { Glibc.unlink(path) }
    }

    /// chmod(2): a file readable by its owner only holds a private key.
    public static func setPermissions(_ path: String, mode: UInt32) throws(SystemCallError) {
        _ = try retryingInterrupts("chmod \(path)") { Glibc.chmod(path, mode_t(mode)) }
    }

    /// Creates a directory; one that already exists is not an error.
    public static func makeDirectory(_ path: String, mode: UInt32 = 0o755) throws(SystemCallError) {
        if Glibc.mkdir(path, mode_t(mode)) == 0 { return }
        let error = swiftlet_errno()
        if error == EEXIST { return }
        throw SystemCallError(call: "mkdir \(path)", errno: error)
    }

    public static func removeDirectory(_ path: String) throws(SystemCallError) {
        _ = try retryingInterrupts("rmdir \(path)") { Glibc.rmdir(path) }
    }

    /// A new directory under `parent`, named `prefix` and six random characters (mkdtemp).
    public static func makeTemporaryDirectory(in parent: String = "/tmp", prefix: String) throws(SystemCallError) -> String {
        var template = Array("\(parent)/\(prefix)XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw SystemCallError(call: "mkdtemp \(parent)/\(prefix)", errno: swiftlet_errno()) }
        return String(cString: made)
    }

    /// Removes a directory and everything in it (symbolic links are removed, not followed).
    public static func removeTree(_ path: String) throws(SystemCallError) {
        for name in try directoryEntries(path) {
            let child = path + "/" + name
            var status = stat()
            _ = try retryingInterrupts("lstat \(child)") { lstat(child, &status) }
            if status.st_mode & S_IFMT == S_IFDIR { try removeTree(child) } else { try unlink(child) }
        }
        try removeDirectory(path)
    }

    /// The names in a directory, without "." and "..".
    public static func directoryEntries(_ path: String) throws(SystemCallError) -> [String] {
        guard let directory = opendir(path) else { throw SystemCallError(call: "opendir \(path)", errno: swiftlet_errno()) }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// An anonymous in-memory file (the broker's --memory mode): sendfile works on it.
    public static func memoryFile(name: String) throws(SystemCallError) -> Int32 {
        try retryingInterrupts("memfd_create \(name)") { swiftlet_memfd_create(name) }
    }

    /// Takes an exclusive advisory lock without waiting; false when another process has it.
    public static func tryLockExclusive(_ descriptor: Int32) throws(SystemCallError) -> Bool {
        while true {
            if flock(descriptor, LOCK_EX | LOCK_NB) == 0 { return true }
            let error = swiftlet_errno()
            if error == EINTR { continue }
            if error == EWOULDBLOCK { return false }
            throw SystemCallError(call: "flock", errno: error)
        }
    }

    /// Releases a lock tryLockExclusive took.
    public static func unlock(_ descriptor: Int32) throws(SystemCallError) {
        _ = try retryingInterrupts("flock") { flock(descriptor, LOCK_UN) }
    }

    /// Replaces the file at `path` with `bytes` so that a crash or power cut leaves the old
    /// contents or the new, never a torn mix: written beside it, synced, renamed over it, and
    /// the directory synced so that the rename itself is durable. With `previous`, the old
    /// contents are moved there first (a crash between the renames leaves only `previous`).
    public static func replaceFile(_ path: String, with bytes: [UInt8], keepingPreviousAt previous: String? = nil)
        throws(SystemCallError)
    {
        let temporary = path + ".tmp"
        let descriptor = try open(temporary, [.readWrite, .create, .truncate])
        let written = bytes.withUnsafeBytes { buffer in
            Result { () throws(SystemCallError) in
                try pwrite(descriptor, buffer, at: 0)
                try fsync(descriptor)
            }
        }
        close(descriptor)
        try written.get()
        if let previous {
            do { try rename(path, to: previous) } catch  where error.errno == ENOENT {}
        }
        try rename(temporary, to: path)
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let directoryDescriptor = try open(directory, [.directory])
        defer { close(directoryDescriptor) }
        try fsync(directoryDescriptor)
    }

    /// The whole file at `path`, or nil when there is no such file; any other failure (no
    /// permission, an I/O error) throws instead of passing for an empty file.
    public static func readFileIfPresent(_ path: String) throws(SystemCallError) -> [UInt8]? {
        let descriptor: Int32
        do {
            descriptor = try open(path, .readOnly)
        } catch  where error.errno == ENOENT {
            return nil
        }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: Int(try fileSize(descriptor)))
        let read = bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(SystemCallError) in try pread(descriptor, into: buffer, at: 0) }
        }
        bytes.removeSubrange(try read.get()...)
        return bytes
    }

    /// The absolute path of an existing `path`, with links and "." and ".." resolved.
    public static func canonicalPath(_ path: String) throws(SystemCallError) -> String {
        guard let resolved = realpath(path, nil) else { throw SystemCallError(call: "realpath \(path)", errno: swiftlet_errno()) }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Total and available bytes of the file system holding `path` (statvfs).
    public static func fileSystemSpace(_ path: String) throws(SystemCallError) -> (total: Int64, available: Int64) {
        var info = statvfs()
        _ = try retryingInterrupts("statvfs \(path)") { statvfs(path, &info) }
        let block = Int64(info.f_frsize)
        return (Int64(info.f_blocks) * block, Int64(info.f_bavail) * block)
    }

    /// Waits until `descriptor` is readable (or `timeoutMilliseconds` passes); true when readable.
    public static func waitReadable(_ descriptor: Int32, timeoutMilliseconds: Int32) throws(SystemCallError) -> Bool {
        var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        let count = try retryingInterrupts("poll") { Glibc.poll(&entry, 1, timeoutMilliseconds) }
        return count > 0
    }

    /// Waits until `descriptor` is writable; true when writable.
    public static func waitWritable(_ descriptor: Int32, timeoutMilliseconds: Int32) throws(SystemCallError) -> Bool {
        var entry = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
        let count = try retryingInterrupts("poll") { Glibc.poll(&entry, 1, timeoutMilliseconds) }
        return count > 0
    }
}

// An open file of the log, closed when the last reference goes: a reader holding a
// segment's file keeps it readable after retention deletes the segment.

import SystemCalls

public final class LogFile: Sendable {
    public let descriptor: Int32
    public let path: String

    init(descriptor: Int32, path: String) {
        self.descriptor = descriptor
        self.path = path
    }

    deinit { System.close(descriptor) }

    public func size() throws(SystemCallError) -> Int64 { try System.fileSize(descriptor) }

    public func read(count: Int, at offset: Int64) throws(SystemCallError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let result = bytes.withUnsafeMutableBytes { buffer in
            Result { () throws(SystemCallError) in try System.pread(descriptor, into: buffer, at: offset) }
        }
        let read = try result.get()
        if read < count { bytes.removeSubrange(read...) }
        return bytes
    }

    func write(_ bytes: [UInt8], at offset: Int64) throws(SystemCallError) {
        try bytes.withUnsafeBytes { buffer in
            Result { () throws(SystemCallError) in try System.pwrite(descriptor, buffer, at: offset) }
        }.get()
    }

    /// Writes `bytes` with the byte ranges of `patches` replaced by their bytes (the same
    /// length), in one gathered write: a produced batch goes to the file with its offsets
    /// assigned without copying the batch.
    func write(_ bytes: [UInt8], patches: [(position: Int, bytes: [UInt8])], at offset: Int64) throws(SystemCallError) {
        guard !patches.isEmpty else { return try write(bytes, at: offset) }
        let joined = patches.flatMap(\.bytes)
        try bytes.withUnsafeBytes { body in
            joined.withUnsafeBytes { patched in
                Result { () throws(SystemCallError) in
                    var parts: [UnsafeRawBufferPointer] = []
                    parts.reserveCapacity(patches.count * 2 + 1)
                    var cursor = 0
                    var patchCursor = 0
                    for patch in patches {
                        if patch.position > cursor { parts.append(UnsafeRawBufferPointer(rebasing: body[cursor..<patch.position])) }
                        parts.append(UnsafeRawBufferPointer(rebasing: patched[patchCursor..<patchCursor + patch.bytes.count]))
                        cursor = patch.position + patch.bytes.count
                        patchCursor += patch.bytes.count
                    }
                    if cursor < body.count { parts.append(UnsafeRawBufferPointer(rebasing: body[cursor...])) }
                    try System.pwritev(descriptor, parts, at: offset)
                }
            }
        }.get()
    }
}

/// Where log files live: a directory tree on disk, or anonymous memory files (--memory)
/// that still support sendfile. Paths are relative to the store's root.
public protocol FileStore: Sendable {
    var isDurable: Bool { get }
    func makeDirectory(_ path: String) throws(SystemCallError)
    func removeDirectory(_ path: String) throws(SystemCallError)
    func list(_ directory: String) throws(SystemCallError) -> [String]
    func exists(_ path: String) -> Bool
    /// Opens read-write, creating the file when asked.
    func open(_ path: String, create: Bool) throws(SystemCallError) -> LogFile
    func remove(_ path: String) throws(SystemCallError)
    func rename(_ from: String, to: String) throws(SystemCallError)
    func sync(_ file: LogFile) throws(SystemCallError)
}

public struct DiskFileStore: FileStore {
    public let root: String
    public var isDurable: Bool { true }

    public init(root: String) { self.root = root }

    private func full(_ path: String) -> String { path.isEmpty ? root : root + "/" + path }

    public func makeDirectory(_ path: String) throws(SystemCallError) { try System.makeDirectory(full(path)) }
    public func removeDirectory(_ path: String) throws(SystemCallError) { try System.removeDirectory(full(path)) }
    public func list(_ directory: String) throws(SystemCallError) -> [String] { try System.directoryEntries(full(directory)).sorted() }

    public func exists(_ path: String) -> Bool {
        guard let descriptor = try? System.open(full(path), .readOnly) else { return false }
        System.close(descriptor)
        return true
    }

    public func open(_ path: String, create: Bool) throws(SystemCallError) -> LogFile {
        let flags: System.OpenFlags = create ? [.readWrite, .create] : [.readWrite]
        return LogFile(descriptor: try System.open(full(path), flags), path: path)
    }

    public func remove(_ path: String) throws(SystemCallError) { try System.unlink(full(path)) }
    public func rename(_ from: String, to: String) throws(SystemCallError) { try System.rename(full(from), to: full(to)) }
    public func sync(_ file: LogFile) throws(SystemCallError) { try System.fdatasync(file.descriptor) }
}

/// memfd-backed files keyed by path; gone when the process ends.
public final class MemoryFileStore: FileStore {
    private let files = MutexBox<[String: LogFile]>([:])
    private let directories = MutexBox<Set<String>>([""])
    public var isDurable: Bool { false }

    public init() {}

    public func makeDirectory(_ path: String) throws(SystemCallError) { directories.withLock { _ = $0.insert(path) } }

    public func removeDirectory(_ path: String) throws(SystemCallError) { directories.withLock { _ = $0.remove(path) } }

    public func list(_ directory: String) throws(SystemCallError) -> [String] {
        let prefix = directory.isEmpty ? "" : directory + "/"
        func child(_ path: String) -> String? {
            guard path.hasPrefix(prefix), path != directory else { return nil }
            let rest = path.dropFirst(prefix.count)
            return rest.isEmpty || rest.contains("/") ? nil : String(rest)
        }
        let fileNames = files.withLock { $0.keys.compactMap(child) }
        let directoryNames = directories.withLock { $0.compactMap(child) }
        return Array(Set(fileNames + directoryNames)).sorted()
    }

    public func exists(_ path: String) -> Bool {
        files.withLock { $0[path] != nil } || directories.withLock { $0.contains(path) }
    }

    public func open(_ path: String, create: Bool) throws(SystemCallError) -> LogFile {
        if let existing = files.withLock({ $0[path] }) { return existing }
        guard create else { throw SystemCallError(call: "open \(path)", errno: 2) }  // ENOENT
        let file = LogFile(descriptor: try System.memoryFile(name: path), path: path)
        files.withLock { $0[path] = file }
        return file
    }

    public func remove(_ path: String) throws(SystemCallError) {
        guard files.withLock({ $0.removeValue(forKey: path) }) != nil else {
            throw SystemCallError(call: "unlink \(path)", errno: 2)
        }
    }

    public func rename(_ from: String, to: String) throws(SystemCallError) {
        let moved = files.withLock { table -> Bool in
            guard let file = table.removeValue(forKey: from) else { return false }
            table[to] = file
            return true
        }
        if !moved { throw SystemCallError(call: "rename \(from)", errno: 2) }
    }

    public func sync(_ file: LogFile) throws(SystemCallError) {}
}

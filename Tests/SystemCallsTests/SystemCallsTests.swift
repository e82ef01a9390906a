// The wrappers' contract: errors are typed and name the call, EAGAIN is a value, files and
// addresses behave as the kernel says.

import Glibc
import SystemCalls
import Testing

@Suite struct SystemCallsTests {
    @Test func errorsNameTheCallAndErrno() throws {
        let first = try System.tcpSocket(family: AF_INET)
        defer { System.close(first) }
        try System.bind(first, to: SocketAddress("127.0.0.1:0")!)
        try System.listen(first, backlog: 8)
        let taken = try System.localAddress(first)!
        let second = try System.tcpSocket(family: AF_INET)
        defer { System.close(second) }
        #expect(throws: SystemCallError(call: "bind \(taken)", errno: EADDRINUSE)) {
            try System.bind(second, to: taken)
        }
        let error = SystemCallError(call: "bind", errno: EADDRINUSE)
        #expect(error.description.contains("Address already in use"))
        #expect(throws: SystemCallError.self) { try System.open("/nonexistent/file", .readOnly) }
    }

    @Test func wouldBlockIsAValue() throws {
        let listener = try System.tcpSocket(family: AF_INET)
        defer { System.close(listener) }
        try System.bind(listener, to: SocketAddress("127.0.0.1:0")!)
        try System.listen(listener, backlog: 8)
        guard case .wouldBlock = try System.accept(listener) else {
            Issue.record("accept on an empty listener should be wouldBlock")
            return
        }
        let client = try System.tcpSocket(family: AF_INET)
        defer { System.close(client) }
        _ = try System.connect(client, to: try System.localAddress(listener)!)
        _ = try System.waitReadable(listener, timeoutMilliseconds: 1_000)
        guard case .completed((let server, _)) = try System.accept(listener) else {
            Issue.record("no connection to accept")
            return
        }
        defer { System.close(server) }
        var buffer = [UInt8](repeating: 0, count: 16)
        let result = try buffer.withUnsafeMutableBytes { try System.read(server, into: $0) }
        #expect(result == .wouldBlock)
    }

    @Test func socketAddresses() {
        #expect(SocketAddress("127.0.0.1:9092")?.description == "127.0.0.1:9092")
        #expect(SocketAddress("[::1]:9092")?.description == "[::1]:9092")
        #expect(SocketAddress("localhost:1")?.description == "127.0.0.1:1")
        #expect(SocketAddress("0.0.0.0:0")?.port == 0)
        #expect(SocketAddress("no-port") == nil)
        #expect(SocketAddress("1.2.3.4:99999") == nil)
        #expect(SocketAddress("example.com:9092") == nil)
    }

    @Test func filesReadWriteSyncRename() throws {
        let directory = "/tmp/swiftlet-syscalls-\(getpid())"
        try System.makeDirectory(directory)
        try System.makeDirectory(directory)  // already there: fine
        let path = directory + "/a"
        let file = try System.open(path, [.readWrite, .create, .truncate])
        let data = Array("hello, log".utf8)
        try data.withUnsafeBytes { try System.pwrite(file, $0, at: 3) }
        try System.fdatasync(file)
        #expect(try System.fileSize(file) == 13)
        var readBack = [UInt8](repeating: 0, count: 20)
        let count = try readBack.withUnsafeMutableBytes { try System.pread(file, into: $0, at: 3) }
        #expect(Array(readBack[0..<count]) == data)
        try System.ftruncate(file, length: 5)
        #expect(try System.fileSize(file) == 5)
        try System.fallocate(file, offset: 0, length: 1 << 20)
        #expect(try System.fileSize(file) == 5)
        #expect(try System.tryLockExclusive(file))
        System.close(file)
        try System.rename(path, to: directory + "/b")
        #expect(try System.directoryEntries(directory) == ["b"])
        try System.unlink(directory + "/b")
        try System.removeDirectory(directory)
    }

    @Test func memoryFilesWork() throws {
        let file = try System.memoryFile(name: "test")
        defer { System.close(file) }
        try ([1, 2, 3] as [UInt8]).withUnsafeBytes { try System.pwrite(file, $0, at: 0) }
        #expect(try System.fileSize(file) == 3)
    }

    @Test func gatheredWritesPastTheVectorLimitLandInOrder() throws {
        let file = try System.memoryFile(name: "gathered")
        defer { System.close(file) }
        // More pieces than one pwritev takes (1,024), some empty: the rest follows in order.
        let pieces: [[UInt8]] = (0..<1_500).map { index in
            index % 7 == 0 ? [] : [UInt8(truncatingIfNeeded: index), UInt8(truncatingIfNeeded: index >> 8)]
        }
        let expected = pieces.flatMap { $0 }
        func gather(_ index: Int, _ buffers: [UnsafeRawBufferPointer]) throws {
            guard index < pieces.count else { return try System.pwritev(file, buffers, at: 3) }
            try pieces[index].withUnsafeBytes { try gather(index + 1, buffers + [$0]) }
        }
        try gather(0, [])
        var read = [UInt8](repeating: 0, count: expected.count)
        let count = try read.withUnsafeMutableBytes { try System.pread(file, into: $0, at: 3) }
        #expect(count == expected.count)
        #expect(read == expected)
    }

    @Test func descriptorLimitsReadAndSet() throws {
        let limits = try System.openFileLimit()
        #expect(limits.soft <= limits.hard)
        try System.setOpenFileLimit(soft: limits.soft, hard: limits.hard)
    }
}

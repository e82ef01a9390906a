// A plain client for tests against a live server: a real TCP socket on 127.0.0.1 driven
// through the SystemCalls wrappers, with timeouts so a broken server fails a test instead of
// hanging it.

import Glibc
import SystemCalls

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

public final class TestClient {
    public let descriptor: Int32
    private var buffered: [UInt8] = []
    private var bufferedStart = 0

    public init(_ address: SocketAddress, receiveBufferBytes: Int32? = nil) throws {
        descriptor = try System.tcpSocket(family: address.family)
        if let size = receiveBufferBytes {
            try System.setSocketOption(descriptor, level: SOL_SOCKET, option: SO_RCVBUF, value: size)
        }
        if case .wouldBlock = try System.connect(descriptor, to: address) {
            guard try System.waitWritable(descriptor, timeoutMilliseconds: 5_000) else {
                throw TestFailure(description: "connect timed out")
            }
            let error = try System.socketOption(descriptor, level: SOL_SOCKET, option: SO_ERROR)
            if error != 0 { throw SystemCallError(call: "connect", errno: error) }
        }
    }

    deinit { System.close(descriptor) }

    public func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let result = try bytes.withUnsafeBytes { raw in
                try System.write(descriptor, UnsafeRawBufferPointer(rebasing: raw[sent...]))
            }
            switch result {
            case .completed(let count): sent += count
            case .wouldBlock:
                guard try System.waitWritable(descriptor, timeoutMilliseconds: 5_000) else {
                    throw TestFailure(description: "send timed out")
                }
            }
        }
    }

    public static func frame(_ payload: [UInt8]) -> [UInt8] {
        withUnsafeBytes(of: Int32(payload.count).bigEndian) { Array($0) } + payload
    }

    public func sendFrame(_ payload: [UInt8]) throws { try send(Self.frame(payload)) }

    /// Reads until `count` bytes are buffered; nil when the server closed first.
    public func read(exactly count: Int, timeoutMilliseconds: Int32 = 10_000) throws -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 256 * 1024)
        while buffered.count - bufferedStart < count {
            let result = try chunk.withUnsafeMutableBytes { try System.read(descriptor, into: $0) }
            switch result {
            case .completed(0): return nil
            case .completed(let n): buffered.append(contentsOf: chunk[0..<n])
            case .wouldBlock:
                guard try System.waitReadable(descriptor, timeoutMilliseconds: timeoutMilliseconds) else {
                    throw TestFailure(description: "read timed out with \(buffered.count - bufferedStart)/\(count) bytes")
                }
            }
        }
        let result = Array(buffered[bufferedStart..<bufferedStart + count])
        bufferedStart += count
        if bufferedStart > 1 << 20 || bufferedStart == buffered.count {
            buffered.removeFirst(bufferedStart)
            bufferedStart = 0
        }
        return result
    }

    public func readFrame(timeoutMilliseconds: Int32 = 10_000) throws -> [UInt8]? {
        guard let size = try read(exactly: 4, timeoutMilliseconds: timeoutMilliseconds) else { return nil }
        let length = Int(Int32(bigEndian: size.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }))
        return try read(exactly: length, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// True when the server closes this connection within the timeout.
    public func waitForClose(timeoutMilliseconds: Int32 = 5_000) throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let deadline = System.monotonicNanoseconds() + UInt64(timeoutMilliseconds) * 1_000_000
        while System.monotonicNanoseconds() < deadline {
            do {
                switch try chunk.withUnsafeMutableBytes({ try System.read(descriptor, into: $0) }) {
                case .completed(0): return true
                case .completed: continue
                case .wouldBlock: _ = try System.waitReadable(descriptor, timeoutMilliseconds: 50)
                }
            } catch let error as SystemCallError where error.errno == ECONNRESET {
                return true
            }
        }
        return false
    }
}

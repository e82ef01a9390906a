// A client TCP connection used from one thread as if it blocked: connect, send and receive
// each wait for the socket at most a timeout (a non-blocking descriptor and poll), so that an
// unresponsive peer is an error, not a hung thread. For the command line's Kafka client and
// the broker's etcd client.

import Glibc

public final class BlockingSocket {
    public let descriptor: Int32
    public let timeoutMilliseconds: Int32

    /// Connects to the first of `address`'s resolutions that answers.
    public init(connectingTo address: SocketAddress, timeoutMilliseconds: Int32) throws(SystemCallError) {
        let descriptor = try System.tcpSocket(family: address.family)
        do throws(SystemCallError) {
            if case .wouldBlock = try System.connect(descriptor, to: address) {
                guard try System.waitWritable(descriptor, timeoutMilliseconds: timeoutMilliseconds) else {
                    throw SystemCallError(call: "connect (timed out)", errno: ETIMEDOUT)
                }
                let error = try System.socketOption(descriptor, level: SOL_SOCKET, option: SO_ERROR)
                if error != 0 { throw SystemCallError(call: "connect", errno: error) }
            }
        } catch {
            System.close(descriptor)
            throw error
        }
        self.descriptor = descriptor
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    deinit { System.close(descriptor) }

    /// Sends all of `bytes`; ETIMEDOUT when the peer stops reading for the timeout.
    public func send(_ bytes: [UInt8]) throws(SystemCallError) {
        var sent = 0
        while sent < bytes.count {
            // The closures return a Result: withUnsafeBytes would widen the error to any Error.
            let result = try bytes.withUnsafeBytes { raw in
                Result { () throws(SystemCallError) in try System.write(descriptor, UnsafeRawBufferPointer(rebasing: raw[sent...])) }
            }.get()
            switch result {
            case .completed(let count): sent += count
            case .wouldBlock:
                guard try System.waitWritable(descriptor, timeoutMilliseconds: timeoutMilliseconds) else {
                    throw SystemCallError(call: "send (timed out)", errno: ETIMEDOUT)
                }
            }
        }
    }

    /// Reads what has come into `buffer`, waiting for something at most the timeout
    /// (ETIMEDOUT); 0 when the peer closed.
    public func receive(into buffer: inout [UInt8]) throws(SystemCallError) -> Int {
        while true {
            let result = try buffer.withUnsafeMutableBytes { raw in
                Result { () throws(SystemCallError) in try System.read(descriptor, into: raw) }
            }.get()
            switch result {
            case .completed(let count): return count
            case .wouldBlock:
                guard try System.waitReadable(descriptor, timeoutMilliseconds: timeoutMilliseconds) else {
                    throw SystemCallError(call: "receive (timed out)", errno: ETIMEDOUT)
                }
            }
        }
    }
}

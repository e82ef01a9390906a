// The one error type of every wrapped system call: which call failed and its errno, read
// on the spot. EAGAIN is not an error here: calls that can block return IOResult instead.

import CSystemShims
import Glibc

public struct SystemCallError: Error, Equatable, Sendable, CustomStringConvertible {
    public let call: String
    public let errno: Int32

    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        "\(call) failed: \(String(cString: strerror(errno))) (errno \(errno))"
    }

    /// Out of file descriptors, for the process (EMFILE) or the system (ENFILE).
    public var isDescriptorExhaustion: Bool { errno == EMFILE || errno == ENFILE }
}

/// The outcome of a call on a non-blocking descriptor: done, or it would have blocked.
public enum IOResult<Value: Sendable>: Sendable {
    case completed(Value)
    case wouldBlock
}

extension IOResult: Equatable where Value: Equatable {}

/// Runs `body` until it stops failing with EINTR; -1 with any other errno throws, naming
/// `call`. The errno is captured right after the call, before anything can overwrite it.
@inline(__always)
func retryingInterrupts<Result: BinaryInteger>(_ call: String, _ body: () -> Result) throws(SystemCallError) -> Result {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = swiftlet_errno()
        if error == EINTR { continue }
        throw SystemCallError(call: call, errno: error)
    }
}

/// As `retryingInterrupts`, but EAGAIN/EWOULDBLOCK becomes `.wouldBlock`.
@inline(__always)
func nonBlocking<Result: BinaryInteger & Sendable>(_ call: String, _ body: () -> Result) throws(SystemCallError) -> IOResult<Result> {
    while true {
        let result = body()
        if result != -1 { return .completed(result) }
        let error = swiftlet_errno()
        if error == EINTR { continue }
        if error == EAGAIN || error == EWOULDBLOCK { return .wouldBlock }
        throw SystemCallError(call: call, errno: error)
    }
}

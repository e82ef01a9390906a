// epoll's event bits as a Swift option set, so the reactor never spells a Glibc constant.

import CSystemShims
import Glibc

public struct EpollEvents: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let readable = EpollEvents(rawValue: UInt32(EPOLLIN.rawValue))
    public static let writable = EpollEvents(rawValue: UInt32(EPOLLOUT.rawValue))
    /// The peer shut down its writing side.
    public static let peerClosed = EpollEvents(rawValue: UInt32(EPOLLRDHUP.rawValue))
    public static let hangUp = EpollEvents(rawValue: UInt32(EPOLLHUP.rawValue))
    public static let error = EpollEvents(rawValue: UInt32(EPOLLERR.rawValue))
    public static let edgeTriggered = EpollEvents(rawValue: UInt32(EPOLLET.rawValue))
}

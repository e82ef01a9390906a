// An IPv4 or IPv6 socket address, parsed from "host:port" or "[v6]:port" and handed to
// the kernel as a sockaddr without the caller touching raw pointers.

import Glibc

public enum SocketAddress: Sendable, Equatable, CustomStringConvertible {
    case ipv4(host: (UInt8, UInt8, UInt8, UInt8), port: UInt16)
    case ipv6(host: [UInt8], port: UInt16)

    public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool { lhs.description == rhs.description }

    /// Parses "127.0.0.1:9092", "[::1]:9092", "0.0.0.0:0". Host names are not resolved.
    public init?(_ text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText) else { return nil }
        if host == "localhost" {
            self = .ipv4(host: (127, 0, 0, 1), port: port)
            return
        }
        var v4 = in_addr()
        if inet_pton(AF_INET, String(host), &v4) == 1 {
            let value = UInt32(bigEndian: v4.s_addr)
            self = .ipv4(
                host: (UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)), port: port)
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, String(host), &v6) == 1 {
            let bytes = withUnsafeBytes(of: v6) { Array($0) }
            self = .ipv6(host: bytes, port: port)
            return
        }
        return nil
    }

    public var port: UInt16 {
        switch self {
        case .ipv4(_, let port), .ipv6(_, let port): return port
        }
    }

    public var family: Int32 {
        switch self {
        case .ipv4: return AF_INET
        case .ipv6: return AF_INET6
        }
    }

    public var host: String {
        switch self {
        case .ipv4(let host, _): return "\(host.0).\(host.1).\(host.2).\(host.3)"
        case .ipv6(let bytes, _):
            var address = in6_addr()
            withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    public var description: String {
        switch self {
        case .ipv4: return "\(host):\(port)"
        case .ipv6: return "[\(host)]:\(port)"
        }
    }

    /// Calls `body` with this address as a sockaddr pointer and its length.
    func withSockAddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws(SystemCallError) -> Result) throws(SystemCallError)
        -> Result
    {
        switch self {
        case .ipv4(let host, let port):
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = (UInt32(host.0) << 24 | UInt32(host.1) << 16 | UInt32(host.2) << 8 | UInt32(host.3)).bigEndian
            return try withUnsafePointer(to: &address) { pointer throws(SystemCallError) in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw throws(SystemCallError) in
                    try body(raw, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .ipv6(let host, let port):
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: host) }
            return try withUnsafePointer(to: &address) { pointer throws(SystemCallError) in
                try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw throws(SystemCallError) in
                    try body(raw, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }

    /// Reads a sockaddr_storage the kernel filled in.
    init?(storage: sockaddr_storage) {
        var copy = storage
        switch Int32(storage.ss_family) {
        case AF_INET:
            let address = withUnsafeBytes(of: &copy) { $0.load(as: sockaddr_in.self) }
            let value = UInt32(bigEndian: address.sin_addr.s_addr)
            self = .ipv4(
                host: (UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)),
                port: UInt16(bigEndian: address.sin_port))
        case AF_INET6:
            let address = withUnsafeBytes(of: &copy) { $0.load(as: sockaddr_in6.self) }
            self = .ipv6(host: withUnsafeBytes(of: address.sin6_addr) { Array($0) }, port: UInt16(bigEndian: address.sin6_port))
        default:
            return nil
        }
    }
}

extension SocketAddress {
    /// The addresses of "host:port", a name resolved with getaddrinfo (a literal address is
    /// returned as it is): what a client connects to.
    public static func resolve(_ text: String) throws(SystemCallError) -> [SocketAddress] {
        if let literal = SocketAddress(text) { return [literal] }
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            throw SystemCallError(call: "resolve \(text) (expected host:port)", errno: EINVAL)
        }
        let host = String(text[..<colon]).filter { $0 != "[" && $0 != "]" }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let list else {
            throw SystemCallError(call: "getaddrinfo \(host): \(String(cString: gai_strerror(status)))", errno: EHOSTUNREACH)
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let current = entry {
            if let address = current.pointee.ai_addr {
                var storage = sockaddr_storage()
                withUnsafeMutableBytes(of: &storage) { target in
                    target.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(current.pointee.ai_addrlen)))
                }
                if let resolved = SocketAddress(storage: storage) {
                    let withPort: SocketAddress =
                        switch resolved {
                        case .ipv4(let host, _): .ipv4(host: host, port: port)
                        case .ipv6(let host, _): .ipv6(host: host, port: port)
                        }
                    if !addresses.contains(withPort) { addresses.append(withPort) }
                }
            }
            entry = current.pointee.ai_next
        }
        return addresses
    }
}

// What every generated message and struct can do: decode from and encode to a given
// version. Handlers and the dispatcher work against these protocols, not concrete types.

import KafkaWire

/// A struct of the protocol: a message or one of its nested structs.
public protocol KafkaStruct: Sendable, Equatable {
    init()
    init(from reader: inout ByteReader, version: Int16) throws(DecodeError)
    func encode(into writer: inout ByteWriter, version: Int16) throws(EncodeError)
}

/// A top-level message: it knows the versions it exists in.
public protocol KafkaMessage: KafkaStruct {
    static var validVersions: ClosedRange<Int16> { get }
    /// The versions that use compact encodings and tagged fields; nil when none do.
    static var flexibleVersions: PartialRangeFrom<Int16>? { get }
}

public protocol KafkaApiMessage: KafkaMessage {
    static var apiKey: ApiKey { get }
}

public protocol KafkaRequest: KafkaApiMessage {
    associatedtype Response: KafkaResponse
}

public protocol KafkaResponse: KafkaApiMessage {
    /// Calls `visit` with each error code the response carries, nested ones included, as
    /// Kafka's errorCounts walks them (the broker's error metrics).
    func visitErrorCodes(_ visit: (Int16) -> Void)
}

extension KafkaResponse {
    /// Generated where a response carries error codes; this covers the others.
    public func visitErrorCodes(_ visit: (Int16) -> Void) {}
}

/// A response with a top-level throttle_time_ms (most of them): how long the client should
/// wait before its next request, because of a quota.
public protocol ThrottledResponse: KafkaResponse {
    var throttleTimeMs: Int32 { get set }
}

extension KafkaMessage {
    public static func isFlexible(_ version: Int16) -> Bool {
        flexibleVersions?.contains(version) ?? false
    }

    /// Decodes a whole buffer; bytes left over are an error.
    public init(bytes: [UInt8], version: Int16) throws(DecodeError) {
        var reader = ByteReader(bytes)
        try self.init(from: &reader, version: version)
        if !reader.isAtEnd {
            throw .invalidValue(offset: reader.position, reason: "\(reader.remaining) bytes after the message")
        }
    }

    public func encoded(version: Int16) throws(EncodeError) -> [UInt8] {
        var writer = ByteWriter()
        try encode(into: &writer, version: version)
        return writer.takeBytes()
    }
}

extension ApiKey {
    public var validVersions: ClosedRange<Int16> { requestType.validVersions }

    public func isFlexible(_ version: Int16) -> Bool { requestType.isFlexible(version) }

    /// The request header version a request of this api and version carries: 2 when the
    /// request version is flexible, else 1 (v0 is only for ControlledShutdown v0, gone).
    public func requestHeaderVersion(_ version: Int16) -> Int16 {
        isFlexible(version) ? 2 : 1
    }

    /// The response header version: 1 when flexible, except ApiVersions, whose response
    /// header is always v0 so that a client can read it before it knows any version (KIP-511).
    public func responseHeaderVersion(_ version: Int16) -> Int16 {
        self != .apiVersions && isFlexible(version) ? 1 : 0
    }
}

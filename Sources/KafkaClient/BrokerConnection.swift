// One blocking connection to a Kafka broker, for the command line and health checks: requests
// encoded with the generated codecs at the highest version both sides serve (from the
// broker's ApiVersions), responses read back within a timeout. Any Kafka broker, not only
// Swiftlet.

import Glibc
import KafkaProtocol
import SystemCalls

public struct ClientError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
    public init(_ message: String) { self.message = message }
}

public final class BrokerConnection {
    /// "host:port" as given.
    public let address: String
    public let clientId: String
    private let socket: BlockingSocket
    private let timeoutMilliseconds: Int32
    private var nextCorrelationId: Int32 = 0
    private var buffered: [UInt8] = []
    /// The versions the broker serves, by api key.
    public private(set) var servedVersions: [Int16: ClosedRange<Int16>] = [:]

    /// A response larger than this is refused rather than allocated (a wrong port can answer
    /// anything).
    public static let maximumResponseBytes = 256 * 1024 * 1024

    public init(_ address: String, clientId: String = "swiftlet", timeoutMilliseconds: Int32 = 10_000) throws(ClientError) {
        self.address = address
        self.clientId = clientId
        self.timeoutMilliseconds = timeoutMilliseconds
        let candidates: [SocketAddress]
        do {
            candidates = try SocketAddress.resolve(address)
        } catch {
            throw ClientError("\(address): \(error)")
        }
        var lastError = ClientError("\(address): no address")
        var connected: BlockingSocket?
        for candidate in candidates {
            do {
                connected = try BlockingSocket(connectingTo: candidate, timeoutMilliseconds: timeoutMilliseconds)
                break
            } catch {
                lastError = ClientError("\(address): \(error)")
            }
        }
        guard let connected else { throw lastError }
        socket = connected
        try askVersions()
    }

    /// Sends `request` at the highest version the codec and the broker share, and returns the
    /// response with that version.
    public func send<Request: KafkaRequest>(_ request: Request, within versions: ClosedRange<Int16>? = nil) throws(ClientError) -> (
        response: Request.Response, version: Int16
    ) {
        let version = try self.version(of: Request.self, within: versions)
        return (try send(request, version: version), version)
    }

    /// The highest version of `Request` both sides serve (within `versions` when given).
    public func version<Request: KafkaRequest>(of type: Request.Type, within versions: ClosedRange<Int16>? = nil) throws(ClientError)
        -> Int16
    {
        let ours = versions.map { $0.clamped(to: Request.validVersions) } ?? Request.validVersions
        guard let theirs = servedVersions[Request.apiKey.rawValue], theirs.overlaps(ours) else {
            throw ClientError("\(address) does not serve \(Request.apiKey.name) in versions \(ours.lowerBound)-\(ours.upperBound)")
        }
        return min(theirs.upperBound, ours.upperBound)
    }

    /// Sends `request` at `version` and waits for its response.
    public func send<Request: KafkaRequest>(_ request: Request, version: Int16) throws(ClientError) -> Request.Response {
        let correlationId = try write(request, version: version)
        let frame = try readFrame()
        do {
            let (answeredId, response) = try RequestCodec.decodeResponse(Request.Response.self, frame: frame, version: version)
            guard answeredId == correlationId else {
                throw ClientError("\(address) answered correlation id \(answeredId) to request \(correlationId)")
            }
            return response
        } catch let error as ClientError {
            throw error
        } catch {
            throw ClientError("\(address): \(Request.apiKey.name) v\(version) response does not decode: \(error)")
        }
    }

    /// Sends a request the broker does not answer (Produce with acks=0).
    public func sendWithoutResponse<Request: KafkaRequest>(_ request: Request, version: Int16) throws(ClientError) {
        _ = try write(request, version: version)
    }

    /// Writes `request` in its frame; its correlation id.
    private func write<Request: KafkaRequest>(_ request: Request, version: Int16) throws(ClientError) -> Int32 {
        nextCorrelationId &+= 1
        let payload: [UInt8]
        do {
            payload = try RequestCodec.encode(request: request, version: version, correlationId: nextCorrelationId, clientId: clientId)
        } catch {
            throw ClientError("\(Request.apiKey.name) v\(version): cannot encode the request: \(error)")
        }
        try write(withUnsafeBytes(of: Int32(payload.count).bigEndian) { Array($0) } + payload)
        return nextCorrelationId
    }

    /// ApiVersions, v3 first; a broker that does not know it answers in v0's form (KIP-511).
    private func askVersions() throws(ClientError) {
        let request = ApiVersionsRequest(clientSoftwareName: "swiftlet", clientSoftwareVersion: "1")
        var response = try send(request, version: 3)
        if response.errorCode == ErrorCode.unsupportedVersion.rawValue {
            response = try send(request, version: 0)
        }
        guard response.errorCode == 0 else {
            throw ClientError(
                "\(address): ApiVersions failed with \(ErrorCode(rawValue: response.errorCode)?.kafkaName ?? "\(response.errorCode)")")
        }
        for key in response.apiKeys where key.minVersion <= key.maxVersion {
            servedVersions[key.apiKey] = key.minVersion...key.maxVersion
        }
    }

    private func write(_ bytes: [UInt8]) throws(ClientError) {
        try naming { try socket.send(bytes) }
    }

    /// Runs socket work; a system call's failure becomes a ClientError naming the broker.
    private func naming(_ body: () throws -> Void) throws(ClientError) {
        do {
            try body()
        } catch let error as ClientError {
            throw error
        } catch {
            throw ClientError("\(address): \(error)")
        }
    }

    private func readFrame() throws(ClientError) -> [UInt8] {
        let header = try read(exactly: 4)
        let size = Int(Int32(bigEndian: header.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }))
        guard size >= 4, size <= Self.maximumResponseBytes else {
            throw ClientError("\(address) answered a frame of \(size) bytes: is it a Kafka listener (and not TLS)?")
        }
        return try read(exactly: size)
    }

    private func read(exactly count: Int) throws(ClientError) -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: min(max(count, 4096), 1 << 20))
        do {
            while buffered.count < count {
                let read = try socket.receive(into: &chunk)
                guard read > 0 else { throw ClientError("\(address) closed the connection") }
                buffered += chunk[..<read]
            }
        } catch let error as ClientError {
            throw error
        } catch let error as SystemCallError where error.errno == ETIMEDOUT {
            throw ClientError("\(address): no answer within \(timeoutMilliseconds) ms")
        } catch {
            throw ClientError("\(address): \(error)")
        }
        let frame = Array(buffered[..<count])
        buffered.removeFirst(count)
        return frame
    }
}

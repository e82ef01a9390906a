// etcd's v3 API through its HTTP/JSON gateway (etcd 3.4+: POST /v3/...), so that no gRPC
// stack is needed: keys and values travel in base64 and 64-bit numbers as JSON strings.
// Blocking, one request per connection, each endpoint of the cluster tried in turn.

import Glibc
import Security
import SystemCalls

struct EtcdError: Error, Equatable, CustomStringConvertible {
    let message: String
    var description: String { message }
    init(_ message: String) { self.message = message }
}

/// A key as etcd returns it.
struct EtcdKeyValue: Equatable, Sendable {
    var key: String
    var value: [UInt8]
    var modRevision: Int64
    /// The lease the key lives under (0: none).
    var lease: Int64
}

final class EtcdClient: Sendable {
    /// host:port of each member, as `metadata.store=etcd://a:2379,b:2379` names them.
    let endpoints: [String]
    let timeoutMilliseconds: Int32

    init(endpoints: [String], timeoutMilliseconds: Int32 = 2_000) {
        self.endpoints = endpoints
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// `etcd://host:port[,host:port...]`; nil when it is not that.
    static func endpoints(of url: String) -> [String]? {
        guard url.hasPrefix("etcd://") else { return nil }
        let list = url.dropFirst("etcd://".count).split(separator: ",").map { String($0).trimmed }
        guard !list.isEmpty, list.allSatisfy({ SocketAddress($0) != nil || $0.contains(":") }) else { return nil }
        return list
    }

    // MARK: Keys

    /// The keys from `key` up to `end` (exclusive; nil: `key` alone).
    func range(_ key: String, end: String? = nil) throws(EtcdError) -> [EtcdKeyValue] {
        var request: [(String, JSON)] = [("key", Self.base64(key))]
        if let end { request.append(("range_end", Self.base64(end))) }
        let answer = try call("/v3/kv/range", .object(request))
        guard case .array(let kvs)? = answer["kvs"] else { return [] }
        return kvs.map { entry in
            EtcdKeyValue(
                key: String(decoding: Base64.decode(entry["key"]?.string ?? "") ?? [], as: UTF8.self),
                value: Base64.decode(entry["value"]?.string ?? "") ?? [],
                modRevision: Self.number(entry["mod_revision"]), lease: Self.number(entry["lease"]))
        }
    }

    /// Every key under `prefix`.
    func prefix(_ prefix: String) throws(EtcdError) -> [EtcdKeyValue] { try range(prefix, end: Self.prefixEnd(prefix)) }

    func put(_ key: String, _ value: [UInt8], lease: Int64 = 0) throws(EtcdError) {
        _ = try call(
            "/v3/kv/put", .object([("key", Self.base64(key)), ("value", .string(Base64.encode(value))), ("lease", .string(String(lease)))]))
    }

    /// A condition of a transaction.
    enum Condition {
        /// The key does not exist (its create revision is 0).
        case absent(String)
        /// The key exists (its create revision is past 0).
        case present(String)
        /// The key holds exactly these bytes.
        case holds(String, [UInt8])
    }

    /// An operation of a transaction.
    enum Operation {
        case put(String, [UInt8], lease: Int64)
        /// The key, or with `end` the keys from it up to `end` (exclusive).
        case delete(String, end: String?)
        case get(String)
    }

    /// etcd's compare-and-swap: `then` when every condition holds, else `otherwise`, as one
    /// step; whether the conditions held, and the values the `get`s read.
    func transaction(_ conditions: [Condition], then: [Operation], otherwise: [Operation] = []) throws(EtcdError) -> (
        succeeded: Bool, values: [[UInt8]?]
    ) {
        let answer = try call(
            "/v3/kv/txn",
            .object([
                ("compare", .array(conditions.map(Self.json))), ("success", .array(then.map(Self.json))),
                ("failure", .array(otherwise.map(Self.json))),
            ]))
        guard case .array(let responses)? = answer["responses"] else { return (answer["succeeded"] == .bool(true), []) }
        let values = responses.compactMap { response -> [UInt8]?? in
            guard let range = response["response_range"] else { return nil }
            guard case .array(let kvs)? = range["kvs"] else { return .some(nil) }
            return .some(kvs.first?["value"]?.string.flatMap(Base64.decode))
        }
        return (answer["succeeded"] == .bool(true), values)
    }

    /// Creates `key` only if it does not exist; false when it exists, with its current value.
    func create(_ key: String, _ value: [UInt8], lease: Int64) throws(EtcdError) -> (created: Bool, existing: [UInt8]?) {
        let outcome = try transaction([.absent(key)], then: [.put(key, value, lease: lease)], otherwise: [.get(key)])
        return (outcome.succeeded, outcome.values.first ?? nil)
    }

    private static func json(_ condition: Condition) -> JSON {
        switch condition {
        case .absent(let key), .present(let key):
            let result = if case .absent = condition { "EQUAL" } else { "GREATER" }
            return .object([
                ("key", base64(key)), ("result", .string(result)), ("target", .string("CREATE")), ("create_revision", .string("0")),
            ])
        case .holds(let key, let value):
            return .object([
                ("key", base64(key)), ("result", .string("EQUAL")), ("target", .string("VALUE")), ("value", .string(Base64.encode(value))),
            ])
        }
    }

    private static func json(_ operation: Operation) -> JSON {
        switch operation {
        case .put(let key, let value, let lease):
            return .object([
                (
                    "request_put",
                    .object([("key", base64(key)), ("value", .string(Base64.encode(value))), ("lease", .string(String(lease)))])
                )
            ])
        case .delete(let key, let end):
            var range: [(String, JSON)] = [("key", base64(key))]
            if let end { range.append(("range_end", base64(end))) }
            return .object([("request_delete_range", .object(range))])
        case .get(let key):
            return .object([("request_range", .object([("key", base64(key))]))])
        }
    }

    func delete(_ key: String) throws(EtcdError) {
        _ = try call("/v3/kv/deleterange", .object([("key", Self.base64(key))]))
    }

    // MARK: Leases

    /// A lease of `seconds`; its id.
    func grantLease(seconds: Int) throws(EtcdError) -> Int64 {
        let id = Self.number(try call("/v3/lease/grant", .object([("TTL", .number(Int64(seconds)))]))["ID"])
        guard id != 0 else { throw EtcdError("etcd granted no lease") }
        return id
    }

    /// Renews the lease; the seconds it now has, 0 when it has expired.
    func keepAlive(lease: Int64) throws(EtcdError) -> Int64 {
        Self.number(try call("/v3/lease/keepalive", .object([("ID", .string(String(lease)))]))["result"]?["TTL"])
    }

    func revoke(lease: Int64) throws(EtcdError) {
        _ = try call("/v3/lease/revoke", .object([("ID", .string(String(lease)))]))
    }

    /// Follows the changes under `prefix` with etcd's watch (the gateway's POST /v3/watch, a
    /// stream): calls `changed` after each batch of events until `stop()` is true, looked at
    /// every `stopCheckMilliseconds`. Throws when no endpoint can be watched, or the stream
    /// ends (its member stopped): the caller watches again.
    func watch(prefix: String, stopCheckMilliseconds: Int32 = 500, stop: () -> Bool, changed: () -> Void) throws(EtcdError) {
        let payload = Array(
            JSON.object([("create_request", .object([("key", Self.base64(prefix)), ("range_end", Self.base64(Self.prefixEnd(prefix)))]))])
                .text.utf8)
        var failures: [String] = []
        for endpoint in endpoints {
            let request =
                Array(
                    "POST /v3/watch HTTP/1.1\r\nHost: \(endpoint)\r\nContent-Type: application/json\r\nContent-Length: \(payload.count)\r\n\r\n"
                        .utf8) + payload
            do {
                guard let address = try SocketAddress.resolve(endpoint).first else { throw EtcdError("no address") }
                let socket = try BlockingSocket(connectingTo: address, timeoutMilliseconds: stopCheckMilliseconds)
                try socket.send(request)
                var stream = HTTPMessageStream()
                var buffer = [UInt8](repeating: 0, count: 16 * 1024)
                while !stop() {
                    guard let count = try Self.receive(from: socket, into: &buffer) else { continue }
                    guard count > 0 else { throw EtcdError("the watch stream ended") }
                    for message in try stream.append(buffer[..<count]) {
                        guard let json = JSON.parse(message), let result = json["result"] else {
                            throw EtcdError("watch: \(JSON.parse(message)?["error"]?["message"]?.string ?? "an answer without a result")")
                        }
                        if case .bool(true)? = result["canceled"] { throw EtcdError("watch canceled") }
                        if case .array(let events)? = result["events"], !events.isEmpty { changed() }
                    }
                }
                return
            } catch let error as EtcdError {
                failures.append("\(endpoint): \(error.message)")
            } catch {
                failures.append("\(endpoint): \(error)")
            }
        }
        throw EtcdError("etcd cannot be watched (\(failures.joined(separator: "; ")))")
    }

    /// What `socket` received, 0 when it closed; nil when nothing came within its timeout.
    private static func receive(from socket: BlockingSocket, into buffer: inout [UInt8]) throws(SystemCallError) -> Int? {
        do {
            return try socket.receive(into: &buffer)
        } catch {
            if error.errno == ETIMEDOUT { return nil }
            throw error
        }
    }

    // MARK: The gateway

    /// POSTs `body` to `path` on the first endpoint that answers; the answer's JSON.
    func call(_ path: String, _ body: JSON) throws(EtcdError) -> JSON {
        var failures: [String] = []
        for endpoint in endpoints {
            do {
                return try call(path, body, on: endpoint)
            } catch {
                failures.append("\(endpoint): \(error.message)")
            }
        }
        throw EtcdError("etcd unreachable (\(failures.joined(separator: "; ")))")
    }

    private func call(_ path: String, _ body: JSON, on endpoint: String) throws(EtcdError) -> JSON {
        let payload = Array(body.text.utf8)
        let request =
            Array(
                "POST \(path) HTTP/1.1\r\nHost: \(endpoint)\r\nContent-Type: application/json\r\nContent-Length: \(payload.count)\r\nConnection: close\r\n\r\n"
                    .utf8) + payload
        var reader = HTTPResponseReader()
        do {
            guard let address = try SocketAddress.resolve(endpoint).first else { throw EtcdError("no address") }
            let socket = try BlockingSocket(connectingTo: address, timeoutMilliseconds: timeoutMilliseconds)
            try socket.send(request)
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            while true {
                let count = try socket.receive(into: &chunk)
                guard count > 0 else { throw EtcdError("closed before its answer was whole") }
                if let response = try reader.append(chunk[..<count]) {
                    guard let json = JSON.parse(response.body) else { throw EtcdError("answered \(response.status) without JSON") }
                    guard response.status == 200 else {
                        throw EtcdError("\(path): \(json["message"]?.string ?? json["error"]?.string ?? "status \(response.status)")")
                    }
                    return json
                }
            }
        } catch let error as EtcdError {
            throw error
        } catch {
            throw EtcdError("\(error)")
        }
    }

    static func base64(_ text: String) -> JSON { .string(Base64.encode(Array(text.utf8))) }

    /// etcd's int64s come as strings (absent when 0).
    static func number(_ value: JSON?) -> Int64 {
        switch value {
        case .string(let text?): return Int64(text) ?? 0
        case .number(let number): return number
        default: return 0
        }
    }

    /// The end of the range of keys that start with `prefix`: its last byte plus one.
    static func prefixEnd(_ prefix: String) -> String {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return String(decoding: bytes, as: UTF8.self)
            }
            bytes.removeLast()
        }
        return "\0"
    }
}

// One connection to the broker's HTTP listener: /healthz (the process answers), /readyz
// (serving: started, not stopping, not fenced, no coordinator replay under way), /metrics (Prometheus' text format), the console at / and its JSON
// API under /api/v1/; unknown paths 404, other methods 405; keep-alive unless the client asks
// to close. What reads the broker's state runs on the admin thread, not on the event loop.

import Reactor

struct HTTPConnectionFactory: ConnectionHandlerFactory {
    /// Nil while the broker starts (`Broker.startingResponder`).
    let broker: Broker?
    /// Whether the console refuses changes (http.console.read.only; by default unless the
    /// listener is on loopback).
    let consoleReadOnly: Bool
    /// The listener is on loopback: the API then answers only requests addressed to a
    /// loopback name, so a web page that rebinds its own name to 127.0.0.1 gets nothing.
    let loopback: Bool

    func makeHandler(for connection: ConnectionInfo) -> any ConnectionHandler {
        HTTPConnection(broker: broker, consoleReadOnly: consoleReadOnly, loopback: loopback)
    }

    func makeFraming(maximumFrameSize: Int, largeFrameThreshold: Int, memory: RequestMemoryPool?) -> any Framing {
        HTTPRequestFraming()
    }
}

/// A request as the listener's framing cut it: method, path, query and body.
struct HTTPRequest: Sendable {
    var method: String
    var path: String
    var query: [String: String]
    var body: [UInt8]
    var closesConnection: Bool
    /// Header values by lower-cased name (the last of a repeated one).
    var headers: [String: String]

    /// Parses a request frame (its head and body); nil when the request line is not HTTP/1.x.
    init?(frame: ArraySlice<UInt8>) {
        guard let headEnd = HTTPRequestFraming.headEnd(in: Array(frame)) else { return nil }
        let head = String(decoding: frame.prefix(headEnd), as: UTF8.self)
        // "\r\n" is one Character to Swift.
        let lines = head.split(separator: "\r\n")
        let requestLine = (lines.first ?? "").split(separator: " ")
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else { return nil }
        method = String(requestLine[0])
        let target = requestLine[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        path = Self.percentDecoded(target[0])
        query = [:]
        if target.count == 2 {
            for pair in target[1].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query[Self.percentDecoded(parts[0])] = parts.count == 2 ? Self.percentDecoded(parts[1]) : ""
            }
        }
        body = Array(frame.dropFirst(headEnd + 4))
        // The framing read these fields already, to take the body: they parse.
        headers = Dictionary((HTTPRequestFraming.headerFields(Array(frame.prefix(headEnd))) ?? []).map { ($0.name, $0.value) }) {
            $1
        }
        closesConnection = requestLine[2] == "HTTP/1.0" || headers["connection"]?.lowercased() == "close"
    }

    /// Why the console's API refuses a request that a web page of another site could have
    /// made (CSRF, DNS rebinding); nil when it may be answered. A change must say it is JSON,
    /// which a page can only send to another origin after a preflight (which gets 405); an
    /// Origin must be the page's own; on loopback the Host must be a loopback name.
    func crossSiteRefusal(loopback: Bool) -> String? {
        if method == "POST" && !(headers["content-type"] ?? "").lowercased().hasPrefix("application/json") {
            return "changes are POSTed as Content-Type: application/json"
        }
        let host = headers["host"] ?? ""
        if let origin = headers["origin"], origin != "null", origin.split(separator: "://").last.map(String.init) != host {
            return "Origin \(origin) is not this console's (\(host))"
        }
        if loopback {
            let name = host.hasPrefix("[") ? String(host.prefix { $0 != "]" }.dropFirst()) : String(host.prefix { $0 != ":" })
            guard name == "localhost" || name.hasPrefix("127.") || name == "::1" else {
                return "the console on loopback answers requests to a loopback name (Host \(host))"
            }
        }
        return nil
    }

    /// %XX escapes and "+" (a space, in a query) decoded; a malformed escape is kept as it is.
    static func percentDecoded(_ text: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// An answer of the listener: status, body and its type, and any further header lines.
struct HTTPAnswer: Sendable {
    var status: (code: Int, reason: String)
    var body: [UInt8]
    var contentType: String
    /// Header lines after the standard ones, each ending in CRLF.
    var extraHeaders = ""

    static func text(_ status: (Int, String), _ text: String) -> HTTPAnswer {
        HTTPAnswer(status: status, body: Array(text.utf8), contentType: "text/plain; charset=utf-8")
    }

    static func json(_ value: JSON, status: (Int, String) = (200, "OK")) -> HTTPAnswer {
        HTTPAnswer(status: status, body: Array(value.text.utf8), contentType: "application/json")
    }

    static func error(_ status: (Int, String), _ code: String, _ message: String) -> HTTPAnswer {
        json(.object([("error", .string(code)), ("message", .string(message))]), status: status)
    }

    static func notFound(_ message: String) -> HTTPAnswer { error((404, "Not Found"), "NOT_FOUND", message) }
    static func badRequest(_ message: String) -> HTTPAnswer { error((400, "Bad Request"), "INVALID_REQUEST", message) }
}

final class HTTPConnection: ConnectionHandler {
    let broker: Broker?
    let consoleReadOnly: Bool
    let loopback: Bool

    init(broker: Broker?, consoleReadOnly: Bool, loopback: Bool) {
        self.broker = broker
        self.consoleReadOnly = consoleReadOnly
        self.loopback = loopback
    }

    func connectionClosed() {}

    func received(frame: [UInt8], responder: Responder) {
        guard let kind = frame.first.flatMap(HTTPRequestFraming.FrameKind.init(rawValue:)), kind == .request else {
            let status =
                switch frame.first.flatMap(HTTPRequestFraming.FrameKind.init(rawValue:)) {
                case .headTooLarge: (431, "Request Header Fields Too Large")
                case .bodyTooLarge: (413, "Content Too Large")
                default: (400, "Bad Request")
                }
            responder.respondAndClose([.bytes(Self.response(.text(status, "\(status.1)\n"), head: false, close: true))])
            return
        }
        guard let request = HTTPRequest(frame: frame[1...]) else {
            responder.respondAndClose([.bytes(Self.response(.text((400, "Bad Request"), "Bad Request\n"), head: false, close: true))])
            return
        }
        let close = request.closesConnection
        let head = request.method == "HEAD"
        let answer: @Sendable (HTTPAnswer) -> Void = { answer in
            let bytes = Self.response(answer, head: head, close: close)
            close ? responder.respondAndClose([.bytes(bytes)]) : responder.respond(bytes)
        }
        let isAPI = request.path.hasPrefix("/api/v1/")
        let allowed = isAPI ? ["GET", "HEAD", "POST"] : ["GET", "HEAD"]
        guard allowed.contains(request.method) else {
            var refusal = HTTPAnswer.text((405, "Method Not Allowed"), "\(allowed.joined(separator: ", ")) only\n")
            refusal.extraHeaders = "Allow: \(allowed.joined(separator: ", "))\r\n"
            return answer(refusal)
        }
        if request.path == "/healthz" { return answer(.text((200, "OK"), "ok\n")) }
        guard let broker else {
            return answer(.text((503, "Service Unavailable"), "starting: recovering logs and replaying coordinators\n"))
        }
        let readOnly = consoleReadOnly
        switch request.path {
        case "/readyz":
            answer(broker.readinessProblem.map { .text((503, "Service Unavailable"), "\($0)\n") } ?? .text((200, "OK"), "ready\n"))
        case "/metrics":
            broker.metrics.collect { counted, _ in
                broker.adminWork.execute {
                    let text = MetricsExposition.text(of: broker, counted: counted)
                    answer(HTTPAnswer(status: (200, "OK"), body: Array(text.utf8), contentType: "text/plain; version=0.0.4; charset=utf-8"))
                }
            }
        case _ where isAPI:
            if let refusal = request.crossSiteRefusal(loopback: loopback) {
                return answer(.error((403, "Forbidden"), "CROSS_SITE_REQUEST", "Refused: \(refusal)."))
            }
            let path = request.path.dropFirst("/api/v1/".count).split(separator: "/").map(String.init)
            broker.adminWork.execute {
                ConsoleAPI(broker: broker, readOnly: readOnly).handle(request, path: path, answer: answer)
            }
        default:
            guard let asset = ConsoleAssets.asset(at: request.path) else {
                return answer(.text((404, "Not Found"), "not found: GET /, /healthz, /readyz, /metrics or /api/v1/\n"))
            }
            answer(HTTPAnswer(status: (200, "OK"), body: Array(asset.content.utf8), contentType: asset.contentType))
        }
    }

    static func response(_ answer: HTTPAnswer, head: Bool, close: Bool) -> [UInt8] {
        let lines =
            "HTTP/1.1 \(answer.status.code) \(answer.status.reason)\r\nContent-Type: \(answer.contentType)\r\n"
            + "Content-Length: \(answer.body.count)\r\nCache-Control: no-store\r\n\(answer.extraHeaders)"
            + (close ? "Connection: close\r\n" : "") + "\r\n"
        return Array(lines.utf8) + (head ? [] : answer.body)
    }
}

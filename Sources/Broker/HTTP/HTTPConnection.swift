// One connection to the broker's HTTP listener: GET /healthz (the process answers), /readyz
// (serving, not stopping) and /metrics (Prometheus' text format); other paths 404, other
// methods 405; keep-alive unless the client asks to close.

import Reactor

struct HTTPConnectionFactory: ConnectionHandlerFactory {
    let broker: Broker

    func makeHandler(for connection: ConnectionInfo) -> any ConnectionHandler { HTTPConnection(broker: broker) }

    func makeFraming(maximumFrameSize: Int, largeFrameThreshold: Int, memory: RequestMemoryPool?) -> any Framing {
        HTTPRequestFraming()
    }
}

final class HTTPConnection: ConnectionHandler {
    let broker: Broker

    init(broker: Broker) { self.broker = broker }

    func connectionClosed() {}

    func received(frame: [UInt8], responder: Responder) {
        guard let kind = frame.first.flatMap(HTTPRequestFraming.FrameKind.init(rawValue:)), kind == .request else {
            let status =
                switch frame.first.flatMap(HTTPRequestFraming.FrameKind.init(rawValue:)) {
                case .headTooLarge: (431, "Request Header Fields Too Large")
                case .bodyTooLarge: (413, "Content Too Large")
                default: (400, "Bad Request")
                }
            responder.respondAndClose([.bytes(Self.response(status, body: "\(status.1)\n", close: true))])
            return
        }
        let text = String(decoding: frame[1...], as: UTF8.self)
        // "\r\n" is one Character to Swift.
        let requestLine = (text.split(separator: "\r\n", maxSplits: 1).first ?? "").split(separator: " ")
        guard requestLine.count == 3, requestLine[2].hasPrefix("HTTP/1.") else {
            responder.respondAndClose([.bytes(Self.response((400, "Bad Request"), body: "Bad Request\n", close: true))])
            return
        }
        let method = requestLine[0]
        let path = requestLine[1].prefix { $0 != "?" }
        let close = requestLine[2] == "HTTP/1.0" || text.lowercased().contains("\r\nconnection: close")
        let answer: ((Int, String), String, String)
        switch path {
        case "/healthz", "/readyz", "/metrics":
            guard method == "GET" || method == "HEAD" else {
                let bytes = Self.response((405, "Method Not Allowed"), body: "GET only\n", close: close, extra: "Allow: GET, HEAD\r\n")
                close ? responder.respondAndClose([.bytes(bytes)]) : responder.respond(bytes)
                return
            }
            switch path {
            case "/healthz": answer = ((200, "OK"), "ok\n", "text/plain; charset=utf-8")
            case "/readyz":
                answer =
                    broker.isShuttingDown
                    ? ((503, "Service Unavailable"), "shutting down\n", "text/plain; charset=utf-8")
                    : ((200, "OK"), "ready\n", "text/plain; charset=utf-8")
            default: answer = ((200, "OK"), MetricsExposition.text(of: broker), "text/plain; version=0.0.4; charset=utf-8")
            }
        default:
            answer = ((404, "Not Found"), "not found: GET /healthz, /readyz or /metrics\n", "text/plain; charset=utf-8")
        }
        let bytes = Self.response(answer.0, body: method == "HEAD" ? "" : answer.1, close: close, contentType: answer.2)
        close ? responder.respondAndClose([.bytes(bytes)]) : responder.respond(bytes)
    }

    static func response(
        _ status: (Int, String), body: String, close: Bool, contentType: String = "text/plain; charset=utf-8", extra: String = ""
    ) -> [UInt8] {
        let body = Array(body.utf8)
        let head =
            "HTTP/1.1 \(status.0) \(status.1)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n\(extra)"
            + (close ? "Connection: close\r\n" : "") + "\r\n"
        return Array(head.utf8) + body
    }
}

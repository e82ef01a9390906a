// The executable's log lines, one per event on standard error: logfmt by default
// (`time=... level=info msg="..."`) or one JSON object per line (`--log-format json`), for
// swift-log's Logger, which the Broker module logs through.

import Broker
import Glibc
import Logging
import SystemCalls

struct StandardErrorLogHandler: LogHandler {
    enum Format: String, CaseIterable {
        case logfmt, json
    }

    let format: Format
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// --log-level's names: Kafka's (log4j's) WARN rather than swift-log's warning.
    static func level(named name: String) -> Logger.Level? {
        switch name.lowercased() {
        case "error": .error
        case "warn", "warning": .warning
        case "info": .info
        case "debug": .debug
        case "trace": .trace
        default: nil
        }
    }

    static func name(of level: Logger.Level) -> String {
        switch level {
        case .trace: "trace"
        case .debug: "debug"
        case .info, .notice: "info"
        case .warning: "warn"
        case .error, .critical: "error"
        }
    }

    func log(event: LogEvent) {
        let time = Self.timestamp()
        let level = Self.name(of: event.level)
        let message = event.message.description
        let line: String
        switch format {
        case .logfmt: line = "time=\(time) level=\(level) msg=\(Self.logfmtValue(message))\n"
        case .json: line = "{\"time\":\"\(time)\",\"level\":\"\(level)\",\"msg\":\(JSON.quoted(message))}\n"
        }
        System.writeStandardError(line)
    }

    /// A logfmt value: bare when it has no blank, quote or equals sign; else quoted.
    static func logfmtValue(_ text: String) -> String {
        guard text.isEmpty || text.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline }) else { return text }
        return JSON.quoted(text)
    }

    /// UTC time as 2026-11-26T12:00:00.123Z, without DateFormatter (which loads ICU: ~10 MB
    /// of resident memory for a timestamp).
    static func timestamp() -> String {
        let milliseconds = System.wallClockMilliseconds()
        var seconds = time_t(milliseconds / 1_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let fraction = milliseconds % 1_000
        let millis = fraction < 10 ? "00\(fraction)" : fraction < 100 ? "0\(fraction)" : "\(fraction)"
        return
            "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)).\(millis)Z"
    }
}

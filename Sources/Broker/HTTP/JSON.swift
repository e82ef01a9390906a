// JSON values, written in the order given (the console's API, the CLI's --json) and read
// from request bodies: a parser bounded in depth, for input of a size already capped.

public indirect enum JSON: Sendable, Equatable {
    case null
    case string(String?)
    case number(Int64)
    case double(Double)
    case bool(Bool)
    case array([JSON])
    case object([(String, JSON)])

    public static func == (left: JSON, right: JSON) -> Bool { left.text == right.text }

    public var text: String {
        var output = ""
        write(into: &output)
        return output
    }

    private func write(into output: inout String) {
        switch self {
        case .null, .string(nil): output += "null"
        case .string(let value?): output += Self.quoted(value)
        case .number(let value): output += String(value)
        case .double(let value): output += value.isFinite ? String(value) : "null"
        case .bool(let value): output += value ? "true" : "false"
        case .array(let values):
            output += "["
            for (index, value) in values.enumerated() {
                if index > 0 { output += "," }
                value.write(into: &output)
            }
            output += "]"
        case .object(let fields):
            output += "{"
            for (index, field) in fields.enumerated() {
                if index > 0 { output += "," }
                output += Self.quoted(field.0) + ":"
                field.1.write(into: &output)
            }
            output += "}"
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    public static func quoted(_ value: String) -> String {
        var escaped = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            case "\t": escaped += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                escaped += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped + "\""
    }

    // MARK: Reading

    public subscript(key: String) -> JSON? {
        guard case .object(let fields) = self else { return nil }
        return fields.first { $0.0 == key }?.1
    }

    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var integer: Int64? {
        switch self {
        case .number(let value): return value
        case .double(let value) where value == value.rounded() && abs(value) < 9e15: return Int64(value)
        default: return nil
        }
    }

    /// Parses `bytes` as one JSON value; nil when they are not JSON or nest deeper than 32.
    public static func parse(_ bytes: [UInt8]) -> JSON? {
        var parser = Parser(bytes: bytes)
        guard let value = parser.value(depth: 0) else { return nil }
        parser.skipSpace()
        return parser.position == bytes.count ? value : nil
    }

    private struct Parser {
        let bytes: [UInt8]
        var position = 0
        static let maximumDepth = 32

        mutating func skipSpace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        mutating func literal(_ word: String, _ value: JSON) -> JSON? {
            let expected = Array(word.utf8)
            guard bytes.count - position >= expected.count, Array(bytes[position..<position + expected.count]) == expected else {
                return nil
            }
            position += expected.count
            return value
        }

        mutating func value(depth: Int) -> JSON? {
            guard depth < Self.maximumDepth else { return nil }
            skipSpace()
            guard position < bytes.count else { return nil }
            switch bytes[position] {
            case UInt8(ascii: "n"): return literal("null", .null)
            case UInt8(ascii: "t"): return literal("true", .bool(true))
            case UInt8(ascii: "f"): return literal("false", .bool(false))
            case UInt8(ascii: "\""): return string().map { .string($0) }
            case UInt8(ascii: "["):
                position += 1
                var values: [JSON] = []
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
                    position += 1
                    return .array(values)
                }
                while true {
                    guard let element = value(depth: depth + 1) else { return nil }
                    values.append(element)
                    skipSpace()
                    guard position < bytes.count else { return nil }
                    position += 1
                    if bytes[position - 1] == UInt8(ascii: "]") { return .array(values) }
                    guard bytes[position - 1] == UInt8(ascii: ",") else { return nil }
                }
            case UInt8(ascii: "{"):
                position += 1
                var fields: [(String, JSON)] = []
                skipSpace()
                if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
                    position += 1
                    return .object(fields)
                }
                while true {
                    skipSpace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: "\""), let key = string() else { return nil }
                    skipSpace()
                    guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { return nil }
                    position += 1
                    guard let element = value(depth: depth + 1) else { return nil }
                    fields.append((key, element))
                    skipSpace()
                    guard position < bytes.count else { return nil }
                    position += 1
                    if bytes[position - 1] == UInt8(ascii: "}") { return .object(fields) }
                    guard bytes[position - 1] == UInt8(ascii: ",") else { return nil }
                }
            default: return number()
            }
        }

        mutating func number() -> JSON? {
            let start = position
            while position < bytes.count, "+-0123456789.eE".utf8.contains(bytes[position]) { position += 1 }
            let text = String(decoding: bytes[start..<position], as: UTF8.self)
            if let integer = Int64(text) { return .number(integer) }
            return Double(text).map { .double($0) }
        }

        /// A string literal at `position` (its opening quote), escapes resolved.
        mutating func string() -> String? {
            position += 1
            var scalars = String.UnicodeScalarView()
            var run: [UInt8] = []
            func flush() {
                scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars)
                run.removeAll()
            }
            while position < bytes.count {
                let byte = bytes[position]
                position += 1
                switch byte {
                case UInt8(ascii: "\""):
                    flush()
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    guard position < bytes.count else { return nil }
                    let escape = bytes[position]
                    position += 1
                    let simple: [UInt8: UInt8] = [
                        UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5C, UInt8(ascii: "/"): 0x2F, UInt8(ascii: "b"): 0x08,
                        UInt8(ascii: "f"): 0x0C, UInt8(ascii: "n"): 0x0A, UInt8(ascii: "r"): 0x0D, UInt8(ascii: "t"): 0x09,
                    ]
                    if let replaced = simple[escape] {
                        run.append(replaced)
                    } else if escape == UInt8(ascii: "u") {
                        guard var code = hex4() else { return nil }
                        // A surrogate pair: a high half then \u and a low half.
                        if (0xD800..<0xDC00).contains(code) {
                            guard bytes.count - position >= 6, bytes[position] == UInt8(ascii: "\\"),
                                bytes[position + 1] == UInt8(ascii: "u")
                            else { return nil }
                            position += 2
                            guard let low = hex4(), (0xDC00..<0xE000).contains(low) else { return nil }
                            code = 0x10000 + (code - 0xD800) << 10 + (low - 0xDC00)
                        }
                        guard let scalar = Unicode.Scalar(code) else { return nil }
                        flush()
                        scalars.append(scalar)
                    } else {
                        return nil
                    }
                case 0..<0x20: return nil
                default: run.append(byte)
                }
            }
            return nil
        }

        mutating func hex4() -> UInt32? {
            guard bytes.count - position >= 4 else { return nil }
            let text = String(decoding: bytes[position..<position + 4], as: UTF8.self)
            position += 4
            return UInt32(text, radix: 16)
        }
    }
}

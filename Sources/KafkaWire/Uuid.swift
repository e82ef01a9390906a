// Kafka's 16-byte UUID (topic ids, directory ids), kept as two integers so it is cheap to
// hash and compare; Foundation's UUID would pull Foundation into the wire layer.

public struct Uuid: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var mostSignificantBits: UInt64
    public var leastSignificantBits: UInt64

    public init(mostSignificantBits: UInt64, leastSignificantBits: UInt64) {
        self.mostSignificantBits = mostSignificantBits
        self.leastSignificantBits = leastSignificantBits
    }

    /// The all-zero UUID, Kafka's "no id".
    public static let zero = Uuid(mostSignificantBits: 0, leastSignificantBits: 0)

    /// A random version-4 UUID. Kafka also avoids ids whose base64 form starts with '-'
    /// (they look like command-line flags); the top bit of the first byte decides that.
    public static func random() -> Uuid {
        var generator = SystemRandomNumberGenerator()
        var high = generator.next() as UInt64
        var low = generator.next() as UInt64
        high = (high & ~0xF000) | 0x4000
        low = (low & ~(0xC << 60)) | (0x8 << 60)
        high &= ~(UInt64(1) << 63)
        return Uuid(mostSignificantBits: high, leastSignificantBits: low)
    }

    public var isZero: Bool { self == .zero }

    public static func < (lhs: Uuid, rhs: Uuid) -> Bool {
        (lhs.mostSignificantBits, lhs.leastSignificantBits)
            < (rhs.mostSignificantBits, rhs.leastSignificantBits)
    }

    /// The canonical 8-4-4-4-12 hex form.
    public var description: String {
        let hex = hexDigits(mostSignificantBits) + hexDigits(leastSignificantBits)
        let characters = Array(hex)
        func part(_ range: Range<Int>) -> String { String(characters[range]) }
        return "\(part(0..<8))-\(part(8..<12))-\(part(12..<16))-\(part(16..<20))-\(part(20..<32))"
    }

    /// Parses the canonical hex form (dashes optional); nil when it is not one.
    public init?(_ text: String) {
        let digits = text.filter { $0 != "-" }
        guard digits.count == 32,
            let high = UInt64(digits.prefix(16), radix: 16),
            let low = UInt64(digits.suffix(16), radix: 16)
        else { return nil }
        self.init(mostSignificantBits: high, leastSignificantBits: low)
    }

    /// Kafka's printed form of a topic id: URL-safe base64 without padding.
    public var base64: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: mostSignificantBits >> UInt64(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: leastSignificantBits >> UInt64(shift))) }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        var output = ""
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value = 0
            for byte in chunk { value = (value << 8) | Int(byte) }
            value <<= 8 * (3 - chunk.count)
            for position in 0...chunk.count {
                output.append(alphabet[(value >> (18 - 6 * position)) & 0x3F])
            }
            index += 3
        }
        return output
    }
}

private func hexDigits(_ value: UInt64) -> String {
    let text = String(value, radix: 16)
    return String(repeating: "0", count: 16 - text.count) + text
}

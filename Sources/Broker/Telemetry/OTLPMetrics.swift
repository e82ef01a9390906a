// The OTLP metrics payload a KIP-714 client pushes (opentelemetry-proto's MetricsData,
// protobuf), decoded sans IO into the latest value of each series: gauges and sums by their
// number data points, histograms and summaries by their sum. It is client input: every
// length is checked against the bytes there are, nesting is fixed by the schema, and series,
// attributes and text are capped (what is past a cap is left out, not refused: a Java client
// pushing every metric of a consumer of many partitions keeps its first ones).

/// One series of a push: the metric's name, its data point's attributes (sorted by key) and
/// its value.
struct TelemetrySeries: Sendable, Equatable {
    var name: String
    var attributes: [(String, String)]
    var value: Double

    static func == (left: TelemetrySeries, right: TelemetrySeries) -> Bool {
        left.name == right.name && left.value == right.value && left.attributes.elementsEqual(right.attributes, by: { $0 == $1 })
    }
}

enum OTLPError: Error, Equatable, CustomStringConvertible {
    case truncated(at: Int)
    case invalidWireType(Int, at: Int)

    var description: String {
        switch self {
        case .truncated(let offset): return "OTLP payload truncated at byte \(offset)"
        case .invalidWireType(let type, let offset): return "OTLP payload has wire type \(type) at byte \(offset)"
        }
    }
}

enum OTLPMetrics {
    /// Series kept from one push at most; a client's standard metrics are a few dozen.
    static let maximumSeries = 2_000
    /// Attributes kept per data point, and the bytes kept of a name, key or value.
    static let maximumAttributes = 32
    static let maximumTextBytes = 256

    /// The series of a MetricsData message.
    static func decode(_ bytes: [UInt8]) throws(OTLPError) -> [TelemetrySeries] {
        var series: [TelemetrySeries] = []
        var message = ProtobufReader(bytes[...])
        while let field = try message.next(), series.count < maximumSeries {
            guard field.number == 1, case .bytes(let resourceMetrics) = field.value else { continue }
            var reader = ProtobufReader(resourceMetrics)
            while let field = try reader.next(), series.count < maximumSeries {
                guard field.number == 2, case .bytes(let scopeMetrics) = field.value else { continue }
                var scopeReader = ProtobufReader(scopeMetrics)
                while let metric = try scopeReader.next(), series.count < maximumSeries {
                    if metric.number == 2, case .bytes(let metricBytes) = metric.value { try Self.metric(metricBytes, into: &series) }
                }
            }
        }
        return series
    }

    static func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes.prefix(maximumTextBytes), as: UTF8.self) }

    /// A Metric: its name, then the data points of its gauge (5), sum (7), histogram (9),
    /// exponential histogram (10) or summary (11).
    private static func metric(_ bytes: ArraySlice<UInt8>, into series: inout [TelemetrySeries]) throws(OTLPError) {
        var name = ""
        var points: [(kind: Int, bytes: ArraySlice<UInt8>)] = []
        var reader = ProtobufReader(bytes)
        while let field = try reader.next() {
            switch (field.number, field.value) {
            case (1, .bytes(let text)): name = Self.text(text)
            case (5, .bytes(let data)), (7, .bytes(let data)), (9, .bytes(let data)), (10, .bytes(let data)), (11, .bytes(let data)):
                var dataReader = ProtobufReader(data)
                while let point = try dataReader.next() {
                    if point.number == 1, case .bytes(let pointBytes) = point.value { points.append((field.number, pointBytes)) }
                }
            default: break
            }
        }
        for point in points where series.count < maximumSeries {
            if let decoded = try dataPoint(point.bytes, kind: point.kind) {
                series.append(TelemetrySeries(name: name, attributes: decoded.attributes, value: decoded.value))
            }
        }
    }

    /// A NumberDataPoint's value (as_double 4, as_int 6) and attributes (7); for histogram,
    /// exponential histogram and summary points, their sum (5) as the value.
    private static func dataPoint(_ bytes: ArraySlice<UInt8>, kind: Int) throws(OTLPError) -> (
        attributes: [(String, String)], value: Double
    )? {
        let attributesField = kind == 9 ? 9 : kind == 10 ? 1 : 7
        var attributes: [(String, String)] = []
        var value: Double?
        var reader = ProtobufReader(bytes)
        while let field = try reader.next() {
            switch (field.number, field.value) {
            case (attributesField, .bytes(let keyValue)) where attributes.count < maximumAttributes:
                attributes.append(try Self.keyValue(keyValue))
            case (4, .fixed64(let bits)) where kind == 5 || kind == 7: value = Double(bitPattern: bits)
            case (6, .fixed64(let bits)) where kind == 5 || kind == 7: value = Double(Int64(bitPattern: bits))
            case (5, .fixed64(let bits)) where kind >= 9: value = Double(bitPattern: bits)
            default: break
            }
        }
        return value.map { (attributes.sorted { $0.0 < $1.0 }, $0) }
    }

    /// A KeyValue: its key (1) and its AnyValue (2) as text.
    private static func keyValue(_ bytes: ArraySlice<UInt8>) throws(OTLPError) -> (String, String) {
        var key = ""
        var value = ""
        var reader = ProtobufReader(bytes)
        while let field = try reader.next() {
            switch (field.number, field.value) {
            case (1, .bytes(let text)): key = Self.text(text)
            case (2, .bytes(let anyValue)):
                var valueReader = ProtobufReader(anyValue)
                while let item = try valueReader.next() {
                    switch (item.number, item.value) {
                    case (1, .bytes(let text)): value = Self.text(text)
                    case (2, .varint(let flag)): value = flag != 0 ? "true" : "false"
                    case (3, .varint(let number)): value = String(Int64(bitPattern: number))
                    case (4, .fixed64(let bits)): value = String(Double(bitPattern: bits))
                    default: break
                    }
                }
            default: break
            }
        }
        return (key, value)
    }
}

/// Protobuf's wire format, one field at a time, over a slice of the payload: lengths are
/// checked against the bytes left, so nothing is allocated by what a length claims.
struct ProtobufReader {
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case fixed32(UInt32)
        case bytes(ArraySlice<UInt8>)
    }

    private let bytes: ArraySlice<UInt8>
    private var position: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    /// The next field, nil at the end.
    mutating func next() throws(OTLPError) -> (number: Int, value: Value)? {
        guard position < bytes.endIndex else { return nil }
        let start = position
        let key = try varint()
        let number = Int(truncatingIfNeeded: key >> 3)
        switch key & 7 {
        case 0: return (number, .varint(try varint()))
        case 1: return (number, .fixed64(try little(8)))
        case 5: return (number, .fixed32(UInt32(truncatingIfNeeded: try little(4))))
        case 2:
            let length = try varint()
            guard length <= UInt64(bytes.endIndex - position) else { throw .truncated(at: start) }
            let slice = bytes[position..<position + Int(length)]
            position += Int(length)
            return (number, .bytes(slice))
        default: throw .invalidWireType(Int(key & 7), at: start)
        }
    }

    private mutating func varint() throws(OTLPError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while position < bytes.endIndex && shift < 64 {
            let byte = bytes[position]
            position += 1
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
        throw .truncated(at: position)
    }

    private mutating func little(_ count: Int) throws(OTLPError) -> UInt64 {
        guard bytes.endIndex - position >= count else { throw .truncated(at: position) }
        var result: UInt64 = 0
        for index in 0..<count { result |= UInt64(bytes[position + index]) << (8 * UInt64(index)) }
        position += count
        return result
    }
}

// The in-memory model of one Protocol/*.kafka file: messages, their fields and structs.
// Parsing fills it, the emitters read it; the schema test compares it with Kafka's JSON.

/// A version range as the schema files write it: `3`, `3+`, `3-13` or `none`.
struct VersionRange: Equatable, Sendable, CustomStringConvertible {
    var lowest: Int16
    /// nil means open-ended ("3+").
    var highest: Int16?
    var isNone: Bool

    static let none = VersionRange(lowest: 0, highest: nil, isNone: true)
    static let all = VersionRange(lowest: 0, highest: nil, isNone: false)

    init(lowest: Int16, highest: Int16?, isNone: Bool = false) {
        self.lowest = lowest
        self.highest = highest
        self.isNone = isNone
    }

    init?(parsing text: String) {
        if text == "none" {
            self = .none
            return
        }
        if text.hasSuffix("+") {
            guard let low = Int16(text.dropLast()) else { return nil }
            self.init(lowest: low, highest: nil)
        } else if let dash = text.firstIndex(of: "-") {
            guard let low = Int16(text[..<dash]), let high = Int16(text[text.index(after: dash)...]),
                low <= high
            else { return nil }
            self.init(lowest: low, highest: high)
        } else {
            guard let single = Int16(text) else { return nil }
            self.init(lowest: single, highest: single)
        }
    }

    func contains(_ version: Int16) -> Bool {
        if isNone { return false }
        return version >= lowest && (highest.map { version <= $0 } ?? true)
    }

    /// This range clipped to `valid` (a closed range of versions).
    func clipped(to valid: ClosedRange<Int16>) -> ClosedRange<Int16>? {
        if isNone { return nil }
        let low = max(lowest, valid.lowerBound)
        let high = min(highest ?? Int16.max, valid.upperBound)
        return low <= high ? low...high : nil
    }

    var description: String {
        if isNone { return "none" }
        guard let highest else { return "\(lowest)+" }
        return highest == lowest ? "\(lowest)" : "\(lowest)-\(highest)"
    }
}

indirect enum FieldType: Equatable, Sendable, CustomStringConvertible {
    case bool, int8, int16, uint16, int32, uint32, int64, float64
    case string, bytes, records, uuid
    case array(FieldType)
    case structure(String)

    static let scalars: [String: FieldType] = [
        "bool": .bool, "int8": .int8, "int16": .int16, "uint16": .uint16, "int32": .int32,
        "uint32": .uint32, "int64": .int64, "float64": .float64, "string": .string,
        "bytes": .bytes, "records": .records, "uuid": .uuid,
    ]

    init(parsing text: String) {
        if text.hasPrefix("[]") {
            self = .array(FieldType(parsing: String(text.dropFirst(2))))
        } else if let scalar = FieldType.scalars[text] {
            self = scalar
        } else {
            self = .structure(text)
        }
    }

    var description: String {
        switch self {
        case .array(let element): return "[]" + element.description
        case .structure(let name): return name
        default: return FieldType.scalars.first { $0.value == self }!.key
        }
    }

    var structName: String? {
        switch self {
        case .structure(let name): return name
        case .array(let element): return element.structName
        default: return nil
        }
    }
}

struct Field: Equatable, Sendable {
    var name: String
    var type: FieldType
    var versions: VersionRange
    var nullableVersions: VersionRange = .none
    var tag: Int?
    var taggedVersions: VersionRange = .none
    /// Overrides the message's flexible versions for this field (RequestHeader.ClientId).
    var flexibleVersions: VersionRange?
    var defaultValue: String?
    var ignorable = false
    /// Children when this field declares a struct.
    var fields: [Field] = []
    var line: Int = 0
}

struct StructDeclaration: Equatable {
    var name: String
    var versions: VersionRange?
    var fields: [Field]
}

enum MessageKind: String, Equatable {
    case request, response, header, data
}

struct MessageSchema: Equatable {
    var kind: MessageKind
    var name: String
    var apiKey: Int16?
    var validVersions: ClosedRange<Int16>
    var flexibleVersions: VersionRange
    var fields: [Field]
    var commonStructs: [StructDeclaration] = []

    /// The Swift type name: ProduceRequest, RequestHeader, OffsetCommitKey.
    var typeName: String {
        switch kind {
        case .request: return name + "Request"
        case .response: return name + "Response"
        case .header, .data: return name
        }
    }
}

struct SchemaFile: Equatable {
    var fileName: String
    var messages: [MessageSchema]
}

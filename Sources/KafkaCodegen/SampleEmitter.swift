// Writes the round-trip test cases: for every message, a sample value with a non-default
// value in every field a version carries, so a codec that drops or misplaces any field
// fails the test.

import Foundation

enum SampleEmitter {
    static func emit(files: [SchemaFile]) -> String {
        var text = SwiftText()
        text.line(SwiftEmitter.banner + "*.kafka (round-trip test samples).")
        text.line()
        text.line("import KafkaProtocol")
        text.line("import KafkaWire")
        var names: [String] = []
        for file in files {
            for message in file.messages {
                names.append(message.typeName)
                let context = MessageContext(message: message)
                text.line()
                emitSample(type: message.typeName, fields: message.fields, context: context, into: &text)
                for (name, fields) in context.structs {
                    text.line()
                    emitSample(type: "\(message.typeName).\(name)", fields: fields, context: context, into: &text)
                }
            }
        }
        text.line()
        text.line("/// Every generated message, for the round-trip test.")
        text.line("let generatedRoundTripCases: [String: @Sendable () throws -> Void] = [")
        for name in names {
            text.line("    \"\(name)\": { try checkRoundTrip(\(name).self) },")
        }
        text.line("]")
        return text.text
    }

    static func emitSample(type: String, fields: [Field], context: MessageContext, into text: inout SwiftText) {
        text.block("extension \(type): Sampled") { body in
            body.block("static func sample(version: Int16, seed: Int) -> Self") { function in
                let used = fields.contains { context.condition($0.tag == nil ? $0.versions : $0.taggedVersions) != "false" }
                function.line(used ? "var value = Self()" : "let value = Self()")
                for field in fields {
                    let range = field.tag == nil ? field.versions : field.taggedVersions
                    function.when(context.condition(range)) {
                        $0.line("value.\(Naming.property(field.name)) = \(sampleValue(field.type, field: field))")
                    }
                }
                function.line("return value")
            }
        }
    }

    static func sampleValue(_ type: FieldType, field: Field) -> String {
        switch type {
        case .bool: return field.defaultValue == "true" ? "false" : "true"
        case .int8: return "Int8(truncatingIfNeeded: 70 + seed)"
        case .int16: return "Int16(truncatingIfNeeded: 700 + seed)"
        case .uint16: return "UInt16(truncatingIfNeeded: 700 + seed)"
        case .int32: return "Int32(truncatingIfNeeded: 7_000 + seed)"
        case .uint32: return "UInt32(truncatingIfNeeded: 7_000 + seed)"
        case .int64: return "Int64(70_000 + seed)"
        case .float64: return "Double(seed) + 0.5"
        case .string: return "\"s\\(seed)\""
        case .bytes: return "[1, 2, UInt8(truncatingIfNeeded: seed)]"
        case .records: return ".bytes([1, 2, UInt8(truncatingIfNeeded: seed)])"
        case .uuid: return "Uuid(mostSignificantBits: UInt64(seed) + 1, leastSignificantBits: 99)"
        case .structure: return ".sample(version: version, seed: seed + 1)"
        case .array(let element):
            if case .structure = element {
                return "[.sample(version: version, seed: seed + 1), .sample(version: version, seed: seed + 2)]"
            }
            return "[\(sampleValue(element, field: field)), \(sampleValue(element, field: field).replacingFirst("seed", with: "seed + 1"))]"
        }
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}

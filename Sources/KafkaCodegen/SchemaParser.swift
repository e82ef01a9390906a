// Reads the Protocol/*.kafka line format (grammar in Protocol/README.md) into the model,
// with an error naming file and line for anything it does not understand.

import Foundation

struct SchemaParseError: Error, CustomStringConvertible {
    var file: String
    var line: Int
    var reason: String
    var description: String { "\(file):\(line): \(reason)" }
}

enum SchemaParser {
    static func parse(_ text: String, fileName: String) throws -> SchemaFile {
        var messages: [MessageSchema] = []
        // (indent, field) lines collected for the block being read.
        var block: [(indent: Int, field: Field)] = []
        var current: MessageSchema?
        var currentStruct: StructDeclaration?

        func fail(_ line: Int, _ reason: String) -> SchemaParseError {
            SchemaParseError(file: fileName, line: line, reason: reason)
        }

        func finishBlock() throws {
            let fields = try nest(block, fileName: fileName)
            block = []
            if var structure = currentStruct {
                structure.fields = fields
                guard !messages.isEmpty else { throw fail(0, "struct \(structure.name) before any message") }
                messages[messages.count - 1].commonStructs.append(structure)
                currentStruct = nil
            } else if var message = current {
                message.fields = fields
                messages.append(message)
                current = nil
            }
        }

        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let line = String(rawLine)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let indent = line.prefix { $0 == " " }.count
            let words = trimmed.split(separator: " ").map(String.init)
            if indent == 0 {
                try finishBlock()
                if words[0] == "struct" {
                    guard words.count >= 2 else { throw fail(lineNumber, "struct needs a name") }
                    var versions: VersionRange?
                    for word in words.dropFirst(2) {
                        guard word.hasPrefix("versions="), let range = VersionRange(parsing: String(word.dropFirst(9))) else {
                            throw fail(lineNumber, "unknown struct attribute \(word)")
                        }
                        versions = range
                    }
                    currentStruct = StructDeclaration(name: words[1], versions: versions, fields: [])
                    continue
                }
                guard let kind = MessageKind(rawValue: words[0]), words.count >= 2 else {
                    throw fail(lineNumber, "expected request, response, header, data or struct")
                }
                var apiKey: Int16?
                var valid: VersionRange?
                var flexible: VersionRange?
                for word in words.dropFirst(2) {
                    let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2 else { throw fail(lineNumber, "bad attribute \(word)") }
                    switch parts[0] {
                    case "key": apiKey = Int16(parts[1])
                    case "versions": valid = VersionRange(parsing: parts[1])
                    case "flexible": flexible = VersionRange(parsing: parts[1])
                    default: throw fail(lineNumber, "unknown attribute \(parts[0])")
                    }
                }
                guard let valid, let highest = valid.highest, !valid.isNone else {
                    throw fail(lineNumber, "a message needs versions=LOW-HIGH")
                }
                guard let flexible else { throw fail(lineNumber, "a message needs flexible=") }
                if (kind == .request || kind == .response) && apiKey == nil {
                    throw fail(lineNumber, "\(kind.rawValue) needs key=")
                }
                current = MessageSchema(
                    kind: kind, name: words[1], apiKey: apiKey,
                    validVersions: valid.lowest...highest,
                    flexibleVersions: flexible, fields: [])
                continue
            }
            guard indent % 2 == 0 else { throw fail(lineNumber, "indentation must be a multiple of two spaces") }
            guard current != nil || currentStruct != nil else { throw fail(lineNumber, "field outside a message") }
            guard words.count >= 3, let versions = VersionRange(parsing: words[2]) else {
                throw fail(lineNumber, "a field is: Name type versions [options]")
            }
            var field = Field(name: words[0], type: FieldType(parsing: words[1]), versions: versions)
            field.line = lineNumber
            for word in words.dropFirst(3) {
                if word == "ignorable" {
                    field.ignorable = true
                    continue
                }
                let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw fail(lineNumber, "bad option \(word)") }
                switch parts[0] {
                case "nullable":
                    guard let range = VersionRange(parsing: parts[1]) else { throw fail(lineNumber, "bad range \(parts[1])") }
                    field.nullableVersions = range
                case "tag":
                    guard let tag = Int(parts[1]), tag >= 0 else { throw fail(lineNumber, "bad tag \(parts[1])") }
                    field.tag = tag
                case "tagged":
                    guard let range = VersionRange(parsing: parts[1]) else { throw fail(lineNumber, "bad range \(parts[1])") }
                    field.taggedVersions = range
                case "flexible":
                    guard let range = VersionRange(parsing: parts[1]) else { throw fail(lineNumber, "bad range \(parts[1])") }
                    field.flexibleVersions = range
                case "default":
                    field.defaultValue = parts[1]
                default:
                    throw fail(lineNumber, "unknown option \(parts[0])")
                }
            }
            if (field.tag == nil) != field.taggedVersions.isNone {
                throw fail(lineNumber, "tag= and tagged= go together")
            }
            block.append((indent, field))
        }
        try finishBlock()
        return SchemaFile(fileName: fileName, messages: messages)
    }

    /// Turns (indent, field) lines into a tree: a line two spaces deeper than the one
    /// before it is that field's child.
    private static func nest(_ lines: [(indent: Int, field: Field)], fileName: String) throws -> [Field] {
        var index = 0
        func children(atIndent indent: Int) throws -> [Field] {
            var result: [Field] = []
            while index < lines.count {
                let (lineIndent, field) = lines[index]
                if lineIndent < indent { break }
                if lineIndent > indent {
                    throw SchemaParseError(file: fileName, line: field.line, reason: "unexpected indentation")
                }
                index += 1
                var node = field
                node.fields = try children(atIndent: indent + 2)
                if !node.fields.isEmpty && node.type.structName == nil {
                    throw SchemaParseError(file: fileName, line: field.line, reason: "only struct fields have children")
                }
                result.append(node)
            }
            return result
        }
        return try children(atIndent: 2)
    }
}

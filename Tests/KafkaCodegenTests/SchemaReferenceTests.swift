// Our Protocol/ files against Kafka's own JSON schemas (../shared/reference/, when present)
// and against the Kafka 4.x version table in protocol-notes.md section A: api keys, valid
// and flexible versions, and every field's name, type, versions, nullability, tag and default.

import Foundation
import Testing

@testable import KafkaCodegen

let referenceFolder = packageRoot + "/../shared/reference/kafka-message-schemas"
let protocolNotes = packageRoot + "/../shared/reference/protocol-notes.md"
let referenceAvailable = FileManager.default.fileExists(atPath: referenceFolder)

/// APIs whose reference JSON predates Kafka 4.3 (SOURCE.txt: the 2024 snapshot, not the
/// 4.3 overlay) and differs from it. Our files follow Apache Kafka 4.3.1 for these; only the
/// api key and flexibility compare, and section A checks the ranges.
let olderReferenceApis: Set<Int16> = [69, 76, 77, 78, 79, 80, 85, 87]
/// 4.x APIs with no reference JSON at all (added after the snapshot).
let apisWithoutReference: Set<Int16> = [88, 89, 90, 91, 92]

/// Where our valid range differs from section A's "4.2 broker range", and why.
let sectionAExceptions: [Int16: String] = [
    0: "section A lists the advertised 0-13; Kafka 4.x accepts only 3-13 (KAFKA-18659)",
    35: "Kafka 4.3 adds DescribeLogDirs v5",
    76: "Kafka 4.1 removed the early-access v0 of the share-group APIs (KIP-932)",
    77: "as 76", 78: "as 76", 79: "as 76",
]

@Suite(.enabled(if: referenceAvailable, "needs ../shared/reference beside the checkout"))
struct SchemaReferenceTests {
    static func loadJSON(_ name: String) throws -> [String: Any]? {
        let path = referenceFolder + "/" + name + ".json"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        // Kafka's schema files carry // comment lines (the license header).
        let json = text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }
            .joined(separator: "\n")
        return try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
    }

    static func range(_ value: Any?) -> VersionRange {
        guard let text = value as? String else { return .none }
        return VersionRange(parsing: text) ?? .none
    }

    static func normalizedDefault(_ value: Any?, type: String?) -> String? {
        guard let value else { return nil }
        var text = "\(value)"
        // JSONSerialization's numbers also cast to Bool; only a bool field's default is one.
        if type == "bool", let bool = value as? Bool { text = bool ? "true" : "false" }
        if text == "False" || text == "True" { text = text.lowercased() }
        if text.hasPrefix("0x"), let number = Int(text.dropFirst(2), radix: 16) { text = String(number) }
        if text.isEmpty { text = "\"\"" }
        return text
    }

    /// Compares one level of fields, recursing into struct children; returns mismatches.
    static func compare(_ ours: [Field], _ allOfTheirs: [[String: Any]], valid: ClosedRange<Int16>, path: String) -> [String] {
        var problems: [String] = []
        // Fields that exist only in versions we do not serve are never on the wire
        // (kafka-python's 4.3 copies keep some that Kafka 4.3.1 dropped).
        let theirs = allOfTheirs.filter { range($0["versions"]).clipped(to: valid) != nil }
        let ourNames = ours.map(\.name)
        let theirNames = theirs.compactMap { $0["name"] as? String }
        if ourNames != theirNames {
            return ["\(path): fields \(ourNames) vs Kafka's \(theirNames)"]
        }
        for (field, json) in zip(ours, theirs) {
            let here = "\(path).\(field.name)"
            if field.type.description != json["type"] as? String { problems.append("\(here): type \(field.type) vs \(json["type"] ?? "")") }
            if field.versions != range(json["versions"]) { problems.append("\(here): versions \(field.versions)") }
            if field.nullableVersions != range(json["nullableVersions"]) { problems.append("\(here): nullable \(field.nullableVersions)") }
            if field.tag != json["tag"] as? Int { problems.append("\(here): tag \(String(describing: field.tag))") }
            if field.taggedVersions != range(json["taggedVersions"]) { problems.append("\(here): tagged \(field.taggedVersions)") }
            if field.defaultValue != normalizedDefault(json["default"], type: json["type"] as? String) {
                problems.append("\(here): default \(field.defaultValue ?? "none")")
            }
            if field.ignorable != (json["ignorable"] as? Bool ?? false) { problems.append("\(here): ignorable") }
            if (field.flexibleVersions ?? .none) != range(json["flexibleVersions"]) && json["flexibleVersions"] != nil {
                problems.append("\(here): flexible")
            }
            problems += compare(field.fields, json["fields"] as? [[String: Any]] ?? [], valid: valid, path: here)
        }
        return problems
    }

    static func jsonName(_ message: MessageSchema) -> String {
        switch message.kind {
        case .request: return message.name + "Request"
        case .response: return message.name + "Response"
        case .header, .data: return message.name
        }
    }

    @Test func everyMessageMatchesKafkasSchema() throws {
        var compared = 0
        for file in try Generator.loadSchemas(packageRoot: packageRoot) {
            for message in file.messages {
                guard let json = try Self.loadJSON(Self.jsonName(message)) else {
                    // Internal-topic records and the newest APIs have no reference file here.
                    #expect(
                        message.kind == .data || apisWithoutReference.contains(message.apiKey ?? -1),
                        "\(file.fileName): no reference for \(message.typeName)")
                    continue
                }
                let name = "\(file.fileName) \(message.typeName)"
                if let key = message.apiKey {
                    #expect(json["apiKey"] as? Int == Int(key), "\(name): api key")
                }
                #expect(message.flexibleVersions == Self.range(json["flexibleVersions"]), "\(name): flexible versions")
                if let key = message.apiKey, olderReferenceApis.contains(key) { continue }
                let theirValid = Self.range(json["validVersions"])
                // InitProducerId v6 is unstable in 4.3 and not served: ours stops at 5.
                // Kafka 4.x refuses the delegation-token APIs' v0 (KIP-896); the snapshot predates it.
                if ![22, 38, 39, 40, 41].contains(message.apiKey ?? -1) {
                    #expect(
                        theirValid.lowest == message.validVersions.lowerBound && theirValid.highest == message.validVersions.upperBound,
                        "\(name): valid versions \(message.validVersions) vs Kafka's \(theirValid)")
                }
                let theirFields = json["fields"] as? [[String: Any]] ?? []
                var problems = Self.compare(message.fields, theirFields, valid: message.validVersions, path: name)
                let theirStructs = (json["commonStructs"] as? [[String: Any]]) ?? []
                #expect(message.commonStructs.map(\.name) == theirStructs.compactMap { $0["name"] as? String }, "\(name): common structs")
                for (ours, theirs) in zip(message.commonStructs, theirStructs) {
                    problems += Self.compare(
                        ours.fields, theirs["fields"] as? [[String: Any]] ?? [], valid: message.validVersions,
                        path: "\(name).\(ours.name)")
                }
                #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
                compared += 1
            }
        }
        #expect(compared > 120)
    }

    /// Section A of protocol-notes.md: `| key | name | 4.2 broker range | ...`.
    static func sectionARanges() throws -> [Int16: (name: String, range: ClosedRange<Int16>)] {
        let text = try String(contentsOfFile: protocolNotes, encoding: .utf8)
        var result: [Int16: (String, ClosedRange<Int16>)] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| ") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count > 3, let key = Int16(cells[0]) else { continue }
            let rangeText = cells[2].split(separator: " ").first.map(String.init) ?? ""
            guard !cells[2].hasPrefix("("), let range = VersionRange(parsing: rangeText), let high = range.highest else { continue }
            if result[key] == nil { result[key] = (cells[1], range.lowest...high) }
        }
        return result
    }

    @Test func everyBrokerApiOfSectionAHasASchemaWithItsRange() throws {
        let table = try Self.sectionARanges()
        #expect(table.count > 60)
        let ours = try Generator.loadSchemas(packageRoot: packageRoot).flatMap(\.messages)
            .filter { $0.kind == .request }
        let byKey = Dictionary(uniqueKeysWithValues: ours.map { ($0.apiKey!, $0) })
        for (key, entry) in table.sorted(by: { $0.key < $1.key }) {
            guard let message = byKey[key] else {
                Issue.record("no schema for \(entry.name) (\(key))")
                continue
            }
            if sectionAExceptions[key] == nil {
                #expect(message.validVersions == entry.range, "\(entry.name): ours \(message.validVersions), section A \(entry.range)")
            }
        }
    }
}

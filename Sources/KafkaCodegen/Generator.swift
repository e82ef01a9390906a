// Ties parsing and emitting together: from the package root's Protocol/ folder to the map
// of generated files (path -> contents), deterministic so the committed copy can be checked.

import Foundation

enum Generator {
    static let schemaFolder = "Protocol"
    static let generatedFolder = "Sources/KafkaProtocol/Generated"
    static let samplesFile = "Tests/KafkaProtocolTests/Generated/Samples.swift"

    static func loadSchemas(packageRoot: String) throws -> [SchemaFile] {
        let folder = packageRoot + "/" + schemaFolder
        let names = try FileManager.default.contentsOfDirectory(atPath: folder)
            .filter { $0.hasSuffix(".kafka") }.sorted()
        return try names.map { name in
            let text = try String(contentsOfFile: folder + "/" + name, encoding: .utf8)
            return try SchemaParser.parse(text, fileName: name)
        }
    }

    static func generate(packageRoot: String) throws -> [String: String] {
        let files = try loadSchemas(packageRoot: packageRoot)
        var outputs: [String: String] = [:]
        for file in files {
            let base = String(file.fileName.dropLast(".kafka".count))
            outputs["\(generatedFolder)/\(base).swift"] = SwiftEmitter.emit(file: file)
        }
        outputs["\(generatedFolder)/ApiKey.swift"] = ApiKeyEmitter.emit(files: files)
        outputs[samplesFile] = SampleEmitter.emit(files: files)
        return outputs
    }

    /// Generated files on disk that a fresh run would not write (a schema was removed).
    static func staleFiles(packageRoot: String, keeping: Set<String>) throws -> [String] {
        let folder = packageRoot + "/" + generatedFolder
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.map { "\(generatedFolder)/\($0)" }.filter { !keeping.contains($0) }.sorted()
    }
}

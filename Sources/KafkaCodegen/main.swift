// kafka-codegen: reads Protocol/*.kafka and writes Sources/KafkaProtocol/Generated/ and the
// generated round-trip samples of Tests/KafkaProtocolTests/. `--check` only compares.

import Foundation

let arguments = CommandLine.arguments.dropFirst()
let checkOnly = arguments.contains("--check")
let root = arguments.first { !$0.hasPrefix("--") } ?? FileManager.default.currentDirectoryPath

do {
    let outputs = try Generator.generate(packageRoot: root)
    var stale: [String] = []
    for (path, contents) in outputs.sorted(by: { $0.key < $1.key }) {
        let url = URL(fileURLWithPath: root).appendingPathComponent(path)
        let existing = try? String(contentsOf: url, encoding: .utf8)
        if existing == contents { continue }
        stale.append(path)
        if !checkOnly {
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try contents.write(to: url, atomically: true, encoding: .utf8)
        }
    }
    let removed = try Generator.staleFiles(packageRoot: root, keeping: Set(outputs.keys))
    if !checkOnly {
        for path in removed { try FileManager.default.removeItem(atPath: root + "/" + path) }
    }
    stale += removed
    if checkOnly && !stale.isEmpty {
        FileHandle.standardError.write(Data("kafka-codegen: out of date: \(stale.joined(separator: ", "))\n".utf8))
        exit(1)
    }
    print("kafka-codegen: \(outputs.count) files, \(stale.count) \(checkOnly ? "out of date" : "written or removed")")
} catch {
    FileHandle.standardError.write(Data("kafka-codegen: \(error)\n".utf8))
    exit(1)
}

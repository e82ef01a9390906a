// The committed generated code is exactly what the generator writes from Protocol/ today,
// and the schema parser rejects malformed schema lines with the file and line.

import Foundation
import Testing

@testable import KafkaCodegen

/// The package root, found from this file's path (Tests/KafkaCodegenTests/...).
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path

@Suite struct GeneratedCodeTests {
    @Test func committedOutputMatchesAFreshRun() throws {
        let outputs = try Generator.generate(packageRoot: packageRoot)
        #expect(outputs.count > 70)
        for (path, contents) in outputs {
            let committed = try? String(contentsOfFile: packageRoot + "/" + path, encoding: .utf8)
            #expect(committed == contents, "\(path) is stale: run `swift run kafka-codegen`")
        }
        #expect(try Generator.staleFiles(packageRoot: packageRoot, keeping: Set(outputs.keys)).isEmpty)
    }

    @Test func generationIsDeterministic() throws {
        #expect(try Generator.generate(packageRoot: packageRoot) == Generator.generate(packageRoot: packageRoot))
    }

    @Test func parserNamesFileAndLine() {
        let bad = "request Foo key=1 versions=0-1 flexible=none\n  Field int32 0+ nullable=x\n"
        #expect {
            try SchemaParser.parse(bad, fileName: "bad.kafka")
        } throws: { error in
            (error as? SchemaParseError)?.description == "bad.kafka:2: bad range x"
        }
        #expect(throws: SchemaParseError.self) {
            try SchemaParser.parse("request Foo versions=0-1 flexible=none\n", fileName: "nokey.kafka")
        }
        #expect(throws: SchemaParseError.self) {
            try SchemaParser.parse("request Foo key=1 versions=0-1 flexible=none\n   Odd int8 0+\n", fileName: "indent.kafka")
        }
    }

    @Test func namesBecomeSwiftIdentifiers() {
        #expect(Naming.property("ThrottleTimeMs") == "throttleTimeMs")
        #expect(Naming.property("ISRNodes") == "isrNodes")
        #expect(Naming.property("Protocol") == "`protocol`")
        #expect(Naming.property("offset") == "offset")
    }
}

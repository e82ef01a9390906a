// The topic registry's file: a change that cannot be written is not kept, and changes are
// read, applied and written as one step.

import SystemCalls
import TestSupport
import Testing

@testable import Broker

@Suite struct TopicRegistryTests {
    @Test func aChangeThatCannotBeWrittenIsUndone() throws {
        let directory = TemporaryDirectory()
        let registry = try TopicRegistry(dataDirectory: directory.path)
        #expect(try registry.add(TopicInfo(name: "kept", id: "AAAAAAAAAAAAAAAAAAAAAA", partitions: 1, configs: [:])))
        // topics.json is written through topics.json.tmp: a directory there fails the write.
        try System.makeDirectory(directory.path + "/topics.json.tmp")
        #expect(throws: (any Error).self) {
            try registry.add(TopicInfo(name: "lost", id: "BBBBBBBBBBBBBBBBBBBBBB", partitions: 1, configs: [:]))
        }
        #expect(registry.topic(named: "lost") == nil)
        #expect(throws: (any Error).self) {
            try registry.update(named: "kept") {
                $0.partitions = 4
                return true
            }
        }
        #expect(registry.topic(named: "kept")?.partitions == 1)
        #expect(throws: (any Error).self) { try registry.remove("kept") }
        #expect(registry.topic(named: "kept") != nil)
        try System.removeDirectory(directory.path + "/topics.json.tmp")
        // What the file holds is what the registry holds.
        #expect(try TopicRegistry(dataDirectory: directory.path).all.map(\.name) == ["kept"])
    }

    @Test func updatesApplyToTheCurrentState() throws {
        let registry = try TopicRegistry(dataDirectory: nil)
        _ = try registry.add(TopicInfo(name: "t", id: "AAAAAAAAAAAAAAAAAAAAAA", partitions: 1, configs: [:]))
        _ = try registry.update(named: "t") {
            $0.configs["retention.ms"] = "1000"
            return true
        }
        let grown = try registry.update(named: "t") {
            $0.partitions = 3
            return true
        }
        #expect(grown?.partitions == 3 && grown?.configs == ["retention.ms": "1000"])
        #expect(
            try registry.update(named: "t") {
                $0.partitions = 9
                return false
            }?.partitions == 3)  // not applied
        #expect(try registry.update(named: "missing") { _ in true } == nil)
    }
}

// meta.properties, Kafka's way: written on the first start, and a later start with another
// cluster id or node id, or a file that does not read, is refused with Kafka's messages.

import SystemCalls
import TestSupport
import Testing

@testable import Broker

@Suite struct MetaPropertiesTests {
    @Test func parsingAcceptsKafkasFilesAndNamesWhatIsWrong() {
        #expect(
            MetaProperties.parse("#\n#Mon Dec 07\nnode.id=3\nversion=1\ncluster.id=abc\n") == .success(.init(clusterId: "abc", nodeId: 3)))
        #expect(MetaProperties.parse("version=0\nbroker.id=2\ncluster.id=x\n") == .success(.init(clusterId: "x", nodeId: 2)))
        #expect(MetaProperties.parse("version = 1\r\ncluster.id : x \r\n  node.id=4\r\n") == .success(.init(clusterId: "x", nodeId: 4)))
        #expect(MetaProperties.parse("") == .failure(.unreadable("no version")))
        #expect(MetaProperties.parse("\u{0}\u{7}garbage") == .failure(.unreadable("a line without '=': \u{0}\u{7}garbage")))
        #expect(MetaProperties.parse("version=2\ncluster.id=x\nnode.id=1\n") == .failure(.unreadable("unknown version 2")))
        #expect(MetaProperties.parse("version=1\nnode.id=1\n") == .failure(.unreadable("no cluster.id")))
        #expect(MetaProperties.parse("version=1\ncluster.id=x\n") == .failure(.noNodeId))
    }

    @Test func aLaterStartIsCheckedAgainstTheFile() throws {
        let directory = TemporaryDirectory()
        var configuration = BrokerConfiguration()
        configuration.dataDirectory = directory.path + "/data"
        // Each broker lets go of the directory (its lock) when it goes away.
        func start(_ configuration: BrokerConfiguration) throws -> String {
            let broker = try Broker(configuration: configuration)
            try broker.shutdown()
            return broker.clusterId
        }
        let clusterId = try start(configuration)
        let path = directory.path + "/data/meta.properties"
        let written = String(decoding: try #require(try System.readFileIfPresent(path)), as: UTF8.self)
        #expect(written == "version=1\ncluster.id=\(clusterId)\nnode.id=1\n")
        // The same settings start again, with the same cluster id.
        #expect(try start(configuration) == clusterId)

        func refusal(_ change: (inout BrokerConfiguration) -> Void) -> String? {
            var changed = configuration
            change(&changed)
            do {
                _ = try start(changed)
                return nil
            } catch BrokerError.metaProperties(let message) {
                return message
            } catch {
                return "\(error)"
            }
        }
        #expect(
            refusal { $0.nodeId = 2 }
                == "Stored node id 1 doesn't match previous node id 2 in \(path). If you moved your data, make sure your configured node id matches. If you intend to create a new node, you should remove all data in your data directories."
        )
        #expect(refusal { $0.clusterId = "another" } == "Invalid cluster.id in: \(path). Expected another, but read \(clusterId)")
        // A damaged file is refused, and left as it is for the operator to look at.
        for damaged in ["", "garbage without an equals sign"] {
            try System.replaceFile(path, with: Array(damaged.utf8))
            #expect(refusal { _ in }?.hasPrefix("No readable meta.properties files found: \(path)") == true)
            #expect(try System.readFileIfPresent(path) == Array(damaged.utf8))
        }
    }
}

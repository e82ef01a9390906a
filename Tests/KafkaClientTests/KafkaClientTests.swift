// The command line's client, sans broker where it can be: Kafka's murmur2 partitioning (the
// vectors of Kafka's own tests), and read_committed decoding of fetched batches (control
// batches and aborted transactions left out).

import KafkaProtocol
import KafkaRecords
import Testing

@testable import KafkaClient

@Suite struct KafkaClientTests {
    @Test func murmur2MatchesKafkas() {
        let vectors: [(String, Int32)] = [
            ("21", -973_932_308), ("foobar", -790_332_482), ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829), ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            ("abc", 479_470_107),
        ]
        for (text, hash) in vectors { #expect(Murmur2.hash(Array(text.utf8)) == hash, "\(text)") }
        var partitioner = Partitioner()
        #expect(partitioner.partition(for: Array("21".utf8), partitions: 7) == Int32((-973_932_308 & 0x7fff_ffff) % 7))
        #expect((0..<6).map { _ in partitioner.partition(for: nil, partitions: 3) } == [0, 1, 2, 0, 1, 2])
    }

    @Test func abortedTransactionsAndMarkersAreLeftOut() throws {
        func batch(_ offset: Int64, _ values: [String], producerId: Int64 = -1, transactional: Bool = false, control: Bool = false) throws
            -> [UInt8]
        {
            var builder = RecordBatchBuilder()
            builder.baseOffset = offset
            builder.producerId = producerId
            builder.producerEpoch = producerId >= 0 ? 0 : -1
            builder.isTransactional = transactional
            builder.isControl = control
            return try builder.build(
                values.enumerated().map { Record(offset: offset + Int64($0.offset), timestamp: 1, value: Array($0.element.utf8)) })
        }
        let bytes =
            try batch(0, ["plain-0", "plain-1"]) + batch(2, ["kept-2"], producerId: 7, transactional: true)
            + batch(3, ["aborted-3", "aborted-4"], producerId: 9, transactional: true)
            + batch(5, ["marker"], producerId: 9, transactional: true, control: true)
            + batch(6, ["marker"], producerId: 7, transactional: true, control: true)
            + batch(7, ["after-7"], producerId: 9, transactional: true)
        let aborted = [FetchResponse.AbortedTransaction(producerId: 9, firstOffset: 3)]
        let (records, next) = try KafkaCluster.committedRecords(bytes, from: 1, aborted: aborted)
        #expect(records.map { String(decoding: $0.value!, as: UTF8.self) } == ["plain-1", "kept-2", "after-7"])
        #expect(records.map(\.offset) == [1, 2, 7])
        #expect(next == 8)
        // A truncated tail (a fetch cut mid-batch) is left for the next fetch.
        let (partial, partialNext) = try KafkaCluster.committedRecords(Array(bytes.dropLast(5)), from: 0, aborted: aborted)
        #expect(partial.count == 3 && partialNext == 7)
    }

    @Test func rangeAssignmentAsKafkasRangeAssignor() {
        // Members in id order; 5 partitions over 2 members: 3 and 2; more members than
        // partitions: the last ones get none.
        let shares = GroupMember.rangeAssignment(members: ["b", "a"], partitions: [0, 1, 2, 3, 4])
        #expect(shares.map(\.0) == ["a", "b"] && shares.map(\.1) == [[0, 1, 2], [3, 4]])
        let sparse = GroupMember.rangeAssignment(members: ["m1", "m2", "m3"], partitions: [0, 1])
        #expect(sparse.map(\.1) == [[0], [1], []])
    }
}

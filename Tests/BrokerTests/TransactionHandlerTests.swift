// Transactions in-process over a real socket, as a client drives them: InitProducerId with a
// transactional id, AddPartitionsToTxn, transactional Produce, EndTxn commit and abort,
// read_committed Fetch (LSO and aborted transactions), ListOffsets by isolation level,
// TxnOffsetCommit with require_stable, the operator APIs, and fencing.

import KafkaProtocol
import KafkaRecords
import KafkaWire
import LogStorage
import Testing

@testable import Broker

@Suite struct TransactionHandlerTests {
    func transactionalBatch(producerId: Int64, epoch: Int16, sequence: Int32, values: [String]) -> [UInt8] {
        var builder = RecordBatchBuilder()
        builder.isTransactional = true
        builder.producerId = producerId
        builder.producerEpoch = epoch
        builder.baseSequence = sequence
        return try! builder.build(
            values.enumerated().map { Record(offset: Int64($0.offset), timestamp: 1_000, value: Array($0.element.utf8)) })
    }

    func produce(_ client: KafkaTestClient, _ records: [UInt8], transactionalId: String?) throws -> ProduceResponse.PartitionProduceResponse
    {
        try client.send(
            ProduceRequest(
                transactionalId: transactionalId, acks: -1, timeoutMs: 1_000,
                topicData: [
                    .init(name: "payments", partitionData: [.init(index: 0, records: .bytes(records))])
                ]), version: 9
        ).responses[0].partitionResponses[0]
    }

    func fetch(_ client: KafkaTestClient, isolation: Int8) throws -> FetchResponse.PartitionData {
        try client.send(
            FetchRequest(
                maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, isolationLevel: isolation,
                topics: [
                    .init(topic: "payments", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)])
                ]), version: 11
        ).responses[0].partitions[0]
    }

    @Test func commitAbortAndReadCommitted() throws {
        try withBroker { _, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(MetadataRequest(topics: [.init(name: "payments")], allowAutoTopicCreation: true), version: 12)
            let coordinator = try client.send(FindCoordinatorRequest(keyType: 1, coordinatorKeys: ["tx"]), version: 4)
            #expect(coordinator.coordinators[0].errorCode == 0)
            let producer = try client.send(InitProducerIdRequest(transactionalId: "tx", transactionTimeoutMs: 60_000), version: 4)
            #expect(producer.errorCode == 0 && producer.producerEpoch == 0)
            let (id, epoch) = (producer.producerId, producer.producerEpoch)

            // Clients do not write transaction markers.
            let marker = TransactionMarker(type: .commit, coordinatorEpoch: 0).batch(producerId: id, producerEpoch: epoch, timestamp: 1_000)
            #expect(try produce(client, marker, transactionalId: "tx").errorCode == ErrorCode.invalidRecord.rawValue)
            // A transactional write to a partition outside the transaction is refused.
            let stray = try produce(
                client, transactionalBatch(producerId: id, epoch: epoch, sequence: 0, values: ["x"]), transactionalId: "tx")
            #expect(stray.errorCode == ErrorCode.invalidTxnState.rawValue)

            // Transaction 1: two records, committed.
            let add = try client.send(
                AddPartitionsToTxnRequest(
                    v3AndBelowTransactionalId: "tx", v3AndBelowProducerId: id,
                    v3AndBelowProducerEpoch: epoch, v3AndBelowTopics: [.init(name: "payments", partitions: [0])]), version: 3)
            #expect(add.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode == 0)
            #expect(
                try produce(
                    client, transactionalBatch(producerId: id, epoch: epoch, sequence: 0, values: ["a", "b"]), transactionalId: "tx"
                ).errorCode == 0)
            let open = try fetch(client, isolation: 1)
            #expect(open.highWatermark == 2 && open.lastStableOffset == 0)
            #expect(open.records?.count == 0)
            let latest = { (isolation: Int8) in
                try client.send(
                    ListOffsetsRequest(
                        replicaId: -1, isolationLevel: isolation,
                        topics: [
                            .init(name: "payments", partitions: [.init(partitionIndex: 0, timestamp: -1)])
                        ]), version: 7
                ).topics[0].partitions[0].offset
            }
            #expect(try latest(0) == 2 && latest(1) == 0)
            #expect(
                try client.send(EndTxnRequest(transactionalId: "tx", producerId: id, producerEpoch: epoch, committed: true), version: 3)
                    .errorCode == 0)
            #expect(try latest(1) == 3)  // the marker took offset 2

            // Transaction 2: aborted; read_committed readers are told to drop it.
            _ = try client.send(
                AddPartitionsToTxnRequest(
                    v3AndBelowTransactionalId: "tx", v3AndBelowProducerId: id,
                    v3AndBelowProducerEpoch: epoch, v3AndBelowTopics: [.init(name: "payments", partitions: [0])]), version: 3)
            #expect(
                try produce(client, transactionalBatch(producerId: id, epoch: epoch, sequence: 2, values: ["c"]), transactionalId: "tx")
                    .errorCode == 0)
            let listed = try client.send(ListTransactionsRequest(stateFilters: ["Ongoing"]), version: 1)
            #expect(listed.transactionStates.map(\.transactionalId) == ["tx"])
            let described = try client.send(DescribeTransactionsRequest(transactionalIds: ["tx", "nope"]), version: 0)
            #expect(described.transactionStates[0].transactionState == "Ongoing")
            #expect(described.transactionStates[0].topics.map(\.topic) == ["payments"])
            #expect(described.transactionStates[1].errorCode == ErrorCode.transactionalIdNotFound.rawValue)
            let producers = try client.send(DescribeProducersRequest(topics: [.init(name: "payments", partitionIndexes: [0])]), version: 0)
            #expect(producers.topics[0].partitions[0].activeProducers.map(\.currentTxnStartOffset) == [3])
            #expect(
                try client.send(EndTxnRequest(transactionalId: "tx", producerId: id, producerEpoch: epoch, committed: false), version: 3)
                    .errorCode == 0)
            let committed = try fetch(client, isolation: 1)
            #expect(committed.lastStableOffset == 5)
            #expect(committed.abortedTransactions?.map(\.firstOffset) == [3])
            #expect(committed.abortedTransactions?.map(\.producerId) == [id])
            #expect(try fetch(client, isolation: 0).abortedTransactions == nil)

            // An operator's WriteTxnMarkers (KIP-664) ends an open transaction on a partition;
            // a marker of an epoch older than the producer's is refused.
            _ = try client.send(
                AddPartitionsToTxnRequest(
                    v3AndBelowTransactionalId: "tx", v3AndBelowProducerId: id,
                    v3AndBelowProducerEpoch: epoch, v3AndBelowTopics: [.init(name: "payments", partitions: [0])]), version: 3)
            #expect(
                try produce(client, transactionalBatch(producerId: id, epoch: epoch, sequence: 3, values: ["d"]), transactionalId: "tx")
                    .errorCode == 0)
            #expect(try fetch(client, isolation: 1).lastStableOffset == 5)
            let markers = try client.send(
                WriteTxnMarkersRequest(markers: [
                    .init(
                        producerId: id, producerEpoch: epoch, transactionResult: false,
                        topics: [
                            .init(name: "payments", partitionIndexes: [0, 7])
                        ], coordinatorEpoch: -1)
                ]), version: 1)
            #expect(markers.markers[0].topics[0].partitions.map(\.errorCode) == [0, ErrorCode.unknownTopicOrPartition.rawValue])
            #expect(try fetch(client, isolation: 1).lastStableOffset == 7)
            let stale = try client.send(
                WriteTxnMarkersRequest(markers: [
                    .init(
                        producerId: id, producerEpoch: epoch - 1, transactionResult: false,
                        topics: [.init(name: "payments", partitionIndexes: [0])],
                        coordinatorEpoch: -1)
                ]), version: 1)
            #expect(stale.markers[0].topics[0].partitions[0].errorCode == ErrorCode.invalidProducerEpoch.rawValue)
            _ = try client.send(EndTxnRequest(transactionalId: "tx", producerId: id, producerEpoch: epoch, committed: false), version: 3)

            // A second incarnation fences the first.
            let next = try client.send(InitProducerIdRequest(transactionalId: "tx", transactionTimeoutMs: 60_000), version: 4)
            #expect(next.producerId == id && next.producerEpoch == epoch + 1)
            let fenced = try client.send(
                AddPartitionsToTxnRequest(
                    v3AndBelowTransactionalId: "tx", v3AndBelowProducerId: id,
                    v3AndBelowProducerEpoch: epoch, v3AndBelowTopics: [.init(name: "payments", partitions: [0])]), version: 3)
            #expect(fenced.resultsByTopicV3AndBelow[0].resultsByPartition[0].partitionErrorCode == ErrorCode.producerFenced.rawValue)
            let fencedOld = try client.send(
                EndTxnRequest(transactionalId: "tx", producerId: id, producerEpoch: epoch, committed: true), version: 1)
            #expect(fencedOld.errorCode == ErrorCode.invalidProducerEpoch.rawValue)  // before PRODUCER_FENCED existed (v2)
        }
    }

    @Test func offsetsCommittedInATransactionCountOnceItCommits() throws {
        try withBroker { _, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(MetadataRequest(topics: [.init(name: "payments")], allowAutoTopicCreation: true), version: 12)
            let producer = try client.send(InitProducerIdRequest(transactionalId: "ctp", transactionTimeoutMs: 60_000), version: 4)
            let (id, epoch) = (producer.producerId, producer.producerEpoch)
            #expect(
                try client.send(
                    AddOffsetsToTxnRequest(transactionalId: "ctp", producerId: id, producerEpoch: epoch, groupId: "g"), version: 3
                ).errorCode == 0)
            let commit = try client.send(
                TxnOffsetCommitRequest(
                    transactionalId: "ctp", groupId: "g", producerId: id, producerEpoch: epoch,
                    topics: [
                        .init(name: "payments", partitions: [.init(partitionIndex: 0, committedOffset: 42, committedMetadata: nil)])
                    ]), version: 3)
            #expect(commit.topics[0].partitions[0].errorCode == 0)
            let fetchOffsets = { (stable: Bool) in
                try client.send(
                    OffsetFetchRequest(
                        groups: [.init(groupId: "g", topics: [.init(name: "payments", partitionIndexes: [0])])],
                        requireStable: stable), version: 8
                ).groups[0].topics[0].partitions[0]
            }
            #expect(try fetchOffsets(true).errorCode == ErrorCode.unstableOffsetCommit.rawValue)
            #expect(try fetchOffsets(false).committedOffset == -1)
            #expect(
                try client.send(EndTxnRequest(transactionalId: "ctp", producerId: id, producerEpoch: epoch, committed: true), version: 3)
                    .errorCode == 0)
            let settled = try fetchOffsets(true)
            #expect(settled.errorCode == 0 && settled.committedOffset == 42)
        }
    }
}

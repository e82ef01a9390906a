// The console's JSON API under /api/v1/: the broker, its topics and their records, groups,
// transactions and clients, read from the broker's state; changes (topics, configs, a test
// record, a group's offsets) go through the same broker calls as Kafka's requests do.
// Runs on the admin thread: a page's request never takes an event loop's time.

import Coordinators
import KafkaProtocol
import KafkaRecords
import KafkaWire
import LogStorage
import Security
import SystemCalls

struct ConsoleAPI {
    let broker: Broker
    let readOnly: Bool

    /// Records a messages page shows at most.
    static let maximumListedRecords = 500
    /// Bytes read from a partition for one page: enough for 500 small records, bounded for large ones.
    static let maximumReadBytes = 4 * 1024 * 1024

    /// Answers `request` (path below /api/v1/, split at "/"), through `answer` (any thread).
    func handle(_ request: HTTPRequest, path: [String], answer: @escaping @Sendable (HTTPAnswer) -> Void) {
        if request.method == "POST" && readOnly {
            answer(
                .error(
                    (403, "Forbidden"), "READ_ONLY",
                    "The console is read-only: the HTTP listener is not on loopback (set http.console.read.only=false to allow changes)."))
            return
        }
        let body = request.body.isEmpty ? JSON.object([]) : JSON.parse(request.body)
        guard let body else {
            answer(.badRequest("The request body is not JSON."))
            return
        }
        let get = request.method != "POST"
        switch (path.first, path.count, path.last) {
        case ("overview", 1, _) where get, ("clients", 1, _) where get:
            // The sums arrive on an event loop: the answer is built back on the admin thread.
            broker.metrics.collect { counted, clients in
                broker.adminWork.execute {
                    answer(path == ["overview"] ? overview(counted, clients: clients.count) : self.clients(clients))
                }
            }
        case ("topics", 1, _): answer(get ? topics() : createTopic(body))
        case ("topics", 2, _) where get: answer(topic(path[1]))
        case ("topics", 3, "delete") where !get: answer(deleteTopic(path[1]))
        case ("topics", 3, "configs") where !get: answer(alterConfigs(path[1], body))
        case ("topics", 3, "messages"): answer(get ? messages(path[1], query: request.query) : produce(path[1], body))
        case ("groups", 1, _) where get: answer(groups())
        case ("groups", 2, _) where get: answer(group(path[1]))
        case ("groups", 3, "reset-offsets") where !get: answer(resetOffsets(path[1], body))
        case ("transactions", 1, _) where get: answer(transactions())
        default: answer(.notFound("No such API: \(request.method) /api/v1/\(path.joined(separator: "/"))"))
        }
    }

    // MARK: Overview and clients

    func overview(_ counted: MetricsSnapshot, clients: Int) -> HTTPAnswer {
        let now = System.wallClockMilliseconds()
        let listeners: [JSON] = broker.configuration.listeners.indices.map { index in
            let listener = broker.configuration.listeners[index]
            let advertised = broker.advertised(listener: index)
            return .object([
                ("name", .string(listener.name)), ("host", .string(advertised.host)), ("port", .number(Int64(advertised.port))),
                ("securityProtocol", .string(listener.securityProtocol.rawValue)),
            ])
        }
        let traffic = counted.topics.values.reduce(into: MetricsSnapshot.TopicTraffic()) { $0.add($1) }
        let latency: [JSON] = counted.latency.sorted { $0.key < $1.key }.map { apiKey, latency in
            .object([
                ("api", .string(ApiKey(rawValue: apiKey)?.name ?? String(apiKey))), ("requests", .number(Int64(latency.handler.count))),
                ("queueSecondsSum", .double(latency.queue.sumSeconds)), ("handlerSecondsSum", .double(latency.handler.sumSeconds)),
                ("sendSecondsSum", .double(latency.send.sumSeconds)),
            ])
        }
        return .json(
            .object([
                (
                    "broker",
                    .object([
                        ("nodeId", .number(Int64(broker.configuration.nodeId))), ("clusterId", .string(broker.clusterId)),
                        ("version", .string(Broker.softwareVersion)), ("startedAtMs", .number(broker.metrics.startedAtMilliseconds)),
                        ("uptimeMs", .number(now - broker.metrics.startedAtMilliseconds)),
                    ])
                ),
                ("listeners", .array(listeners)),
                ("http", .object([("readOnly", .bool(readOnly))])),
                (
                    "totals",
                    .object([
                        ("topics", .number(Int64(broker.topics.all.count))),
                        ("partitions", .number(Int64(broker.logs.allPartitions.count))),
                        ("groups", .number(Int64(broker.groups.listGroups(states: [], types: []).count))),
                        ("connections", .number(Int64(clients))),
                        ("openTransactions", .number(Int64(broker.transactions.openTransactions().count))),
                        ("bytesIn", .number(Int64(traffic.bytesIn))), ("bytesOut", .number(Int64(traffic.bytesOut))),
                        ("messagesIn", .number(Int64(traffic.messagesIn))),
                        ("messagesOut", .number(Int64(traffic.messagesOut))),
                        ("requests", .number(Int64(counted.requests.values.reduce(0, +)))),
                    ])
                ),
                ("latency", .array(latency)),
            ]))
    }

    func clients(_ clients: [ConnectedClient.Description]) -> HTTPAnswer {
        let connections: [JSON] = clients.sorted { $0.connectedAtMilliseconds < $1.connectedAtMilliseconds }.map { client in
            .object([
                ("connection", .string(client.connection)), ("listener", .string(broker.configuration.listeners[client.listener].name)),
                ("peer", .string(client.peer)),
                ("principal", .string(client.principal)), ("clientId", .string(client.clientId)),
                ("softwareName", .string(client.softwareName)), ("softwareVersion", .string(client.softwareVersion)),
                ("connectedAtMs", .number(client.connectedAtMilliseconds)), ("requests", .number(Int64(client.requests))),
            ])
        }
        return .json(
            .object([
                ("clients", .array(connections)),
                ("telemetry", .array(broker.telemetry.consoleEntries(now: System.wallClockMilliseconds()))),
            ]))
    }

    // MARK: Topics

    func topics() -> HTTPAnswer {
        let listed: [JSON] = broker.topics.all.map { topic in
            let logs = (0..<topic.partitions).compactMap { broker.logs.partition(TopicPartition(topic: topic.name, partition: $0)) }
            return .object([
                ("name", .string(topic.name)), ("internal", .bool(topic.isInternal)), ("partitions", .number(Int64(topic.partitions))),
                ("messages", .number(logs.reduce(0) { $0 + $1.highWatermark - $1.logStartOffset })),
                ("sizeBytes", .number(logs.reduce(0) { $0 + $1.sizeInBytes })),
            ])
        }
        return .json(.object([("topics", .array(listed))]))
    }

    func topic(_ name: String) -> HTTPAnswer {
        guard let topic = broker.topics.topic(named: name) else { return unknownTopic(name) }
        let partitions: [JSON] = (0..<topic.partitions).compactMap { index in
            broker.logs.partition(TopicPartition(topic: name, partition: index)).map { log in
                .object([
                    ("partition", .number(Int64(index))), ("logStartOffset", .number(log.logStartOffset)),
                    ("logEndOffset", .number(log.logEndOffset)), ("highWatermark", .number(log.highWatermark)),
                    ("lastStableOffset", .number(log.lastStableOffset)), ("sizeBytes", .number(log.sizeInBytes)),
                    ("segments", .number(Int64(log.segmentCount))),
                ])
            }
        }
        let configs: [JSON] = TopicConfigCatalog.entries.map { entry in
            let override = topic.configs[entry.name]
            let value = override ?? entry.brokerSynonym.flatMap { broker.configuration.setting(named: $0)?.value } ?? entry.defaultValue
            return .object([("name", .string(entry.name)), ("value", .string(value)), ("isDefault", .bool(override == nil))])
        }
        return .json(
            .object([
                ("name", .string(name)), ("topicId", .string(topic.id)), ("internal", .bool(topic.isInternal)),
                ("partitions", .array(partitions)), ("configs", .array(configs)),
            ]))
    }

    func createTopic(_ body: JSON) -> HTTPAnswer {
        guard let name = body["name"]?.string, !name.isEmpty else { return .badRequest("A topic needs a name.") }
        let partitions = body["partitions"]?.integer ?? Int64(broker.configuration.defaultPartitions)
        guard partitions > 0 else {
            return .error((400, "Bad Request"), "INVALID_PARTITIONS", "Number of partitions must be larger than 0.")
        }
        guard partitions <= Int64(Broker.maximumRecordsPerRequest) else {
            return .error((400, "Bad Request"), "POLICY_VIOLATION", "Unable to perform excessively large batch operation.")
        }
        var configs: [String: String] = [:]
        if case .object(let fields)? = body["configs"] {
            for (key, value) in fields {
                guard let text = value.string else { return .badRequest("Config \(key) needs a string value.") }
                configs[key] = text
            }
        }
        if let problem = TopicRegistry.validate(name) {
            return .error((400, "Bad Request"), "INVALID_TOPIC_EXCEPTION", "Invalid topic name \(name): \(problem)")
        }
        if case .failure(let invalid) = TopicConfigs.apply(configs, to: broker.configuration.topicDefaults) {
            return .error((400, "Bad Request"), "INVALID_CONFIG", invalid.description)
        }
        switch broker.createTopics([TopicCreation(name: name, partitions: Int32(partitions), configs: configs)])[0] {
        case .success: return .json(.object([("name", .string(name))]), status: (201, "Created"))
        case .failure(BrokerError.topicExists):
            return .error((409, "Conflict"), "TOPIC_ALREADY_EXISTS", "Topic '\(name)' already exists.")
        case .failure(let error): return .error((500, "Internal Server Error"), "KAFKA_STORAGE_ERROR", "\(error)")
        }
    }

    func deleteTopic(_ name: String) -> HTTPAnswer {
        guard let topic = broker.topics.topic(named: name) else { return unknownTopic(name) }
        guard !topic.isInternal else {
            return .error((400, "Bad Request"), "INVALID_TOPIC_EXCEPTION", "Internal topic \(name) cannot be deleted.")
        }
        do {
            try broker.deleteTopic(topic)
            return .json(.object([("deleted", .string(name))]))
        } catch {
            return .error((500, "Internal Server Error"), "KAFKA_STORAGE_ERROR", "\(error)")
        }
    }

    /// IncrementalAlterConfigs' SET and DELETE: a null value returns the key to its default.
    func alterConfigs(_ name: String, _ body: JSON) -> HTTPAnswer {
        guard case .object(let fields)? = body["configs"] else { return .badRequest("Expected {\"configs\": {\"key\": \"value\"}}.") }
        for (key, _) in fields where TopicConfigCatalog.byName[key] == nil {
            return .error((400, "Bad Request"), "INVALID_CONFIG", "Unknown topic config name: \(key)")
        }
        let (error, message) = broker.alterTopicConfigs(resourceType: ConfigResourceType.topic.rawValue, name: name, validateOnly: false) {
            current in
            var updated = current
            for (key, value) in fields { updated[key] = value.string }
            return updated
        }
        guard error == .none else {
            let status = error == .unknownTopicOrPartition ? (404, "Not Found") : (400, "Bad Request")
            return .error(status, error.kafkaName, message ?? error.kafkaName)
        }
        return .json(.object([("name", .string(name))]))
    }

    // MARK: Records

    func messages(_ name: String, query: [String: String]) -> HTTPAnswer {
        guard broker.topics.topic(named: name) != nil else { return unknownTopic(name) }
        let partition = Int32(query["partition"] ?? "0") ?? -1
        if let state = broker.ledElsewhere(TopicPartition(topic: name, partition: partition)) {
            let leader = state.leader >= 0 ? "node \(state.leader) leads it" : "it has no live leader"
            return .error(
                (409, "Conflict"), "NOT_LEADER_OR_FOLLOWER",
                "This broker does not lead \(name)-\(partition): \(leader). Produce through that broker's console.")
        }
        guard let log = broker.logs.partition(TopicPartition(topic: name, partition: partition)) else {
            return .error((404, "Not Found"), "UNKNOWN_TOPIC_OR_PARTITION", "Topic \(name) has no partition \(partition).")
        }
        let limit = min(max(Int(query["limit"] ?? "") ?? 50, 1), Self.maximumListedRecords)
        let highWatermark = log.highWatermark
        var start: Int64
        if let text = query["offset"], !text.isEmpty {
            guard let offset = Int64(text) else { return .badRequest("offset must be a number") }
            start = offset
        } else if let text = query["timestamp"], !text.isEmpty {
            guard let timestamp = Int64(text) else { return .badRequest("timestamp must be milliseconds since the epoch") }
            start = (try? log.offset(forTimestamp: timestamp))??.offset ?? highWatermark
        } else {
            start = highWatermark - Int64(limit)
        }
        start = min(max(start, log.logStartOffset), highWatermark)
        var listed: [JSON] = []
        var position = start
        do {
            while listed.count < limit && position < highWatermark {
                let read = try log.read(from: position, maxBytes: Self.maximumReadBytes, minOneBatch: true, maxOffset: highWatermark)
                guard !read.regions.isEmpty else { break }
                var bytes: [UInt8] = []
                for region in read.regions { bytes += try region.file.read(count: region.length, at: region.position) }
                let batches = try RecordBatch.batches(in: bytes, allowPartialTail: true)
                guard !batches.isEmpty else { break }
                for batch in batches {
                    for record in try batch.records() where record.offset >= position && listed.count < limit {
                        listed.append(Self.describe(record, in: batch))
                    }
                    position = max(position, batch.nextOffset)
                }
            }
        } catch {
            return .error((500, "Internal Server Error"), "CORRUPT_MESSAGE", "Reading \(name)-\(partition) at \(position): \(error)")
        }
        return .json(
            .object([
                ("topic", .string(name)), ("partition", .number(Int64(partition))), ("logStartOffset", .number(log.logStartOffset)),
                ("highWatermark", .number(highWatermark)), ("records", .array(listed)),
            ]))
    }

    static func describe(_ record: Record, in batch: RecordBatch) -> JSON {
        let control: JSON =
            batch.isControl ? .string((try? TransactionMarker(record: record)).map { $0.type == .commit ? "COMMIT" : "ABORT" }) : .null
        return .object([
            ("offset", .number(record.offset)), ("timestamp", .number(record.timestamp)),
            ("key", .string(record.key.map(Base64.encode))), ("value", .string(record.value.map(Base64.encode))),
            (
                "headers",
                .array(record.headers.map { .object([("key", .string($0.key)), ("value", .string($0.value.map(Base64.encode)))]) })
            ),
            ("compression", .string((batch.compression ?? .none).description)), ("transactional", .bool(batch.isTransactional)),
            ("control", control), ("producerId", .number(batch.producerId)), ("producerEpoch", .number(Int64(batch.producerEpoch))),
        ])
    }

    /// A test record: one uncompressed batch without a producer id, appended as a Produce
    /// with acks=1 would be.
    func produce(_ name: String, _ body: JSON) -> HTTPAnswer {
        guard let topic = broker.topics.topic(named: name) else { return unknownTopic(name) }
        guard !topic.isInternal else {
            return .error((400, "Bad Request"), "INVALID_TOPIC_EXCEPTION", "Cannot append to internal topic \(name)")
        }
        let key = body["key"]?.string.map { Array($0.utf8) }
        let value = body["value"]?.string.map { Array($0.utf8) }
        var headers: [RecordHeader] = []
        if case .object(let fields)? = body["headers"] {
            headers = fields.map { RecordHeader(key: $0.0, value: $0.1.string.map { Array($0.utf8) }) }
        }
        let partition = body["partition"]?.integer.map { Int32(clamping: $0) } ?? Self.partition(for: key, count: topic.partitions)
        if let state = broker.ledElsewhere(TopicPartition(topic: name, partition: partition)) {
            let leader = state.leader >= 0 ? "node \(state.leader) leads it" : "it has no live leader"
            return .error(
                (409, "Conflict"), "NOT_LEADER_OR_FOLLOWER",
                "This broker does not lead \(name)-\(partition): \(leader). Produce through that broker's console.")
        }
        guard let log = broker.logs.partition(TopicPartition(topic: name, partition: partition)) else {
            return .error((404, "Not Found"), "UNKNOWN_TOPIC_OR_PARTITION", "Topic \(name) has no partition \(partition).")
        }
        let now = System.wallClockMilliseconds()
        do {
            let batch = try RecordBatchBuilder().build([
                Record(offset: 0, timestamp: now, key: key, value: value, headers: headers)
            ])
            let appended = try log.append(batch, leaderEpoch: broker.leaderEpoch(of: log.topicPartition), now: now)
            return .json(.object([("partition", .number(Int64(partition))), ("offset", .number(appended.baseOffset))]))
        } catch {
            return .error((500, "Internal Server Error"), "KAFKA_STORAGE_ERROR", "\(error)")
        }
    }

    /// Kafka's default partitioner: a keyed record by murmur2, an unkeyed one where the sticky
    /// partitioner's first choice would put it (at random).
    static func partition(for key: [UInt8]?, count: Int32) -> Int32 {
        guard let key, count > 0 else { return Int32.random(in: 0..<max(count, 1)) }
        return Murmur2.partition(of: key, count: count)
    }

    // MARK: Groups

    func groups() -> HTTPAnswer {
        let listed: [JSON] = broker.groups.listGroups(states: [], types: []).sorted { $0.groupId < $1.groupId }.map { group in
            let (protocolName, members) = self.members(of: group)
            return .object([
                ("groupId", .string(group.groupId)), ("state", .string(group.state)), ("protocolType", .string(group.protocolType)),
                ("protocol", .string(protocolName)), ("members", .number(Int64(members.count))),
                ("lag", .number(offsets(of: group.groupId).reduce(0) { $0 + $1.lag })),
            ])
        }
        return .json(.object([("groups", .array(listed))]))
    }

    /// A group's protocol and members with their assignments: a classic group's from the
    /// consumer protocol's bytes, a consumer group's (KIP-848) as the coordinator keeps them.
    func members(of group: ListedGroup) -> (protocolName: String, members: [JSON]) {
        func member(_ id: String, _ clientId: String, _ host: String, _ assignments: [JSON]) -> JSON {
            .object([
                ("memberId", .string(id)), ("clientId", .string(clientId)), ("clientHost", .string(host)),
                ("assignments", .array(assignments)),
            ])
        }
        if group.type == "consumer", let described = broker.groups.describeConsumerGroup(group.groupId) {
            return (
                described.assignorName,
                described.members.map { entry in
                    member(
                        entry.memberId, entry.clientId, entry.clientHost,
                        entry.assignment.map {
                            .object([("topic", .string($0.topicName)), ("partitions", .array($0.partitions.map { .number(Int64($0)) }))])
                        })
                }
            )
        }
        let described = broker.groups.describeClassicGroup(group.groupId)
        return (
            described?.protocolName ?? "",
            (described?.members ?? []).map { member($0.memberId, $0.clientId, $0.clientHost, Self.assignments($0.assignment)) }
        )
    }

    func group(_ id: String) -> HTTPAnswer {
        guard let listed = broker.groups.listGroups(states: [], types: []).first(where: { $0.groupId == id }) else {
            return .error((404, "Not Found"), "GROUP_ID_NOT_FOUND", "Group \(id) does not exist.")
        }
        let (protocolName, members) = self.members(of: listed)
        let offsets: [JSON] = offsets(of: id).map { entry in
            .object([
                ("topic", .string(entry.partition.topic)), ("partition", .number(Int64(entry.partition.partition))),
                ("committedOffset", .number(entry.committed)), ("highWatermark", .number(entry.highWatermark)),
                ("lag", .number(entry.lag)), ("metadata", .string(entry.metadata)),
            ])
        }
        return .json(
            .object([
                ("groupId", .string(id)), ("state", .string(listed.state)), ("protocolType", .string(listed.protocolType)),
                ("protocol", .string(protocolName)), ("members", .array(members)), ("offsets", .array(offsets)),
            ]))
    }

    /// A consumer's assignment as the consumer protocol encodes it; nothing for other protocols.
    static func assignments(_ bytes: [UInt8]) -> [JSON] {
        var reader = ByteReader(bytes)
        guard let version = try? reader.readInt16(),
            let assignment = try? ConsumerProtocolAssignment(
                from: &reader, version: min(max(version, 0), ConsumerProtocolAssignment.validVersions.upperBound))
        else { return [] }
        return assignment.assignedPartitions.map {
            .object([("topic", .string($0.topic)), ("partitions", .array($0.partitions.map { .number(Int64($0)) }))])
        }
    }

    func offsets(of groupId: String) -> [(partition: TopicPartition, committed: Int64, highWatermark: Int64, lag: Int64, metadata: String)]
    {
        let (_, committed) = broker.groups.fetchOffsets(groupId: groupId, partitions: nil, memberId: nil, memberEpoch: -1)
        return committed.sorted { $0.key < $1.key }.map { partition, offset in
            let highWatermark = broker.logs.partition(partition)?.highWatermark ?? -1
            return (partition, offset.offset, highWatermark, max(0, highWatermark - offset.offset), offset.metadata ?? "")
        }
    }

    /// kafka-consumer-groups.sh --reset-offsets for an empty group: to the earliest or latest
    /// offset, or a given one, of each partition it committed (of one topic, when named).
    func resetOffsets(_ id: String, _ body: JSON) -> HTTPAnswer {
        guard let listed = broker.groups.listGroups(states: [], types: []).first(where: { $0.groupId == id }) else {
            return .error((404, "Not Found"), "GROUP_ID_NOT_FOUND", "Group \(id) does not exist.")
        }
        guard listed.state == "Empty" || listed.state == "Dead" else {
            return .error((409, "Conflict"), "NON_EMPTY_GROUP", "Group \(id) has members (\(listed.state)): stop its consumers first.")
        }
        let topic = body["topic"]?.string.flatMap { $0.isEmpty ? nil : $0 }
        let target = body["to"]
        guard target?.string == "earliest" || target?.string == "latest" || target?.integer != nil else {
            return .badRequest("\"to\" is \"earliest\", \"latest\" or an offset.")
        }
        let partitions = offsets(of: id).map(\.partition).filter { topic == nil || $0.topic == topic }
        var inputs: [OffsetCommitInput] = []
        for partition in partitions {
            guard let log = broker.logs.partition(partition) else { continue }
            let offset =
                switch target?.string {
                case "earliest": log.logStartOffset
                case "latest": log.highWatermark
                default: min(max(target?.integer ?? 0, log.logStartOffset), log.highWatermark)
                }
            inputs.append(OffsetCommitInput(partition: partition, offset: offset, leaderEpoch: -1, metadata: ""))
        }
        let errors = broker.groups.commitOffsets(
            groupId: id, generationIdOrMemberEpoch: -1, memberId: "", groupInstanceId: nil, retentionMilliseconds: -1,
            apiVersion: 8, offsets: inputs)
        if let failure = errors.first(where: { $0 != .none }) {
            return .error((409, "Conflict"), failure.kafkaName, "The group's offsets were not reset: \(failure.kafkaName).")
        }
        return .json(
            .object([
                ("groupId", .string(id)),
                (
                    "offsets",
                    .array(
                        inputs.map {
                            .object([
                                ("topic", .string($0.partition.topic)), ("partition", .number(Int64($0.partition.partition))),
                                ("committedOffset", .number($0.offset)),
                            ])
                        })
                ),
            ]))
    }

    // MARK: Transactions

    func transactions() -> HTTPAnswer {
        let open: [JSON] = broker.transactions.openTransactions().sorted { $0.transactionalId < $1.transactionalId }.map { transaction in
            .object([
                ("transactionalId", .string(transaction.transactionalId)), ("producerId", .number(transaction.producerId)),
                ("producerEpoch", .number(Int64(transaction.producerEpoch))), ("state", .string(transaction.state.name)),
                ("timeoutMs", .number(Int64(transaction.timeoutMilliseconds))),
                (
                    "partitions",
                    .array(
                        transaction.partitions.sorted().map {
                            .object([("topic", .string($0.topic)), ("partition", .number(Int64($0.partition)))])
                        })
                ),
            ])
        }
        var producers: [JSON] = []
        for name in broker.logs.allPartitions.sorted() where !name.topic.hasPrefix("__") {
            for producer in broker.logs.partition(name)?.activeProducers ?? [] {
                producers.append(
                    .object([
                        ("topic", .string(name.topic)), ("partition", .number(Int64(name.partition))),
                        ("producerId", .number(producer.producerId)), ("producerEpoch", .number(Int64(producer.producerEpoch))),
                        ("lastSequence", .number(Int64(producer.lastSequence))), ("lastTimestamp", .number(producer.lastTimestamp)),
                        ("currentTransactionStartOffset", .number(producer.currentTransactionStartOffset)),
                    ]))
            }
        }
        return .json(.object([("transactions", .array(open)), ("producers", .array(producers))]))
    }

    func unknownTopic(_ name: String) -> HTTPAnswer {
        .error((404, "Not Found"), "UNKNOWN_TOPIC_OR_PARTITION", "Topic \(name) does not exist.")
    }
}

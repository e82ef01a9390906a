// The broker's settings as DescribeConfigs shows them, by Kafka's key names, with whether
// each still has Kafka's default.

import LogStorage

struct DescribedSetting {
    let name: String
    let value: String
    let type: ConfigType
    let isDefault: Bool
}

extension BrokerConfiguration {
    var describedSettings: [DescribedSetting] {
        let defaults = LogConfiguration()
        func entry(_ name: String, _ value: String, _ type: ConfigType, _ kafkaDefault: String) -> DescribedSetting {
            DescribedSetting(name: name, value: value, type: type, isDefault: value == kafkaDefault)
        }
        return [
            entry("node.id", String(nodeId), .int, "1"),
            entry("broker.id", String(nodeId), .int, "1"),
            entry("log.dirs", dataDirectory ?? "(memory)", .string, "./swiftlet-data"),
            entry("num.partitions", String(defaultPartitions), .int, "1"),
            entry("auto.create.topics.enable", String(autoCreateTopics), .boolean, "true"),
            entry("default.replication.factor", String(defaultReplicationFactor), .int, "1"),
            entry("message.max.bytes", String(messageMaxBytes), .int, "1048588"),
            entry("min.insync.replicas", String(logDefaults.minimumInSyncReplicas), .int, "1"),
            entry("log.retention.ms", String(logDefaults.retentionMilliseconds), .long, String(defaults.retentionMilliseconds)),
            entry("log.retention.bytes", String(logDefaults.retentionBytes), .long, String(defaults.retentionBytes)),
            entry("log.segment.bytes", String(logDefaults.segmentBytes), .int, String(defaults.segmentBytes)),
            entry("log.roll.ms", String(logDefaults.segmentMilliseconds), .long, String(defaults.segmentMilliseconds)),
            entry("log.cleanup.policy", logDefaults.cleanupPolicy.rawValue, .list, "delete"),
            entry("log.index.interval.bytes", String(logDefaults.indexIntervalBytes), .int, "4096"),
            entry("log.cleaner.delete.retention.ms", String(logDefaults.deleteRetentionMilliseconds), .long, "86400000"),
            entry("log.cleaner.min.compaction.lag.ms", String(logDefaults.minimumCompactionLagMilliseconds), .long, "0"),
            entry("log.cleaner.max.compaction.lag.ms", String(logDefaults.maximumCompactionLagMilliseconds), .long, String(Int64.max)),
            entry("log.cleaner.min.cleanable.ratio", String(logDefaults.minimumCleanableDirtyRatio), .double, "0.5"),
            entry("log.message.timestamp.type", logDefaults.timestampPolicy.rawValue, .string, "CreateTime"),
            entry("log.retention.check.interval.ms", String(retentionCheckMilliseconds), .long, "300000"),
            entry("log.cleaner.backoff.ms", String(compactionCheckMilliseconds), .long, "15000"),
            entry("producer.id.expiration.ms", String(producerIdExpirationMilliseconds), .int, "86400000"),
            entry("producer.id.expiration.check.interval.ms", String(producerIdExpirationCheckIntervalMilliseconds), .int, "600000"),
            entry("num.network.threads", String(eventLoops ?? 0), .int, "0"),
            entry("socket.request.max.bytes", String(socketRequestMaxBytes), .int, "104857600"),
            entry("connections.max.idle.ms", String(connectionsMaxIdleMilliseconds), .long, "600000"),
            entry("connections.max.reauth.ms", String(connectionsMaxReauthMilliseconds), .long, "0"),
            entry("queued.max.request.bytes", String(queuedMaxRequestBytes), .long, "-1"),
            entry("group.min.session.timeout.ms", String(groups.minimumSessionTimeoutMilliseconds), .int, "6000"),
            entry("group.max.session.timeout.ms", String(groups.maximumSessionTimeoutMilliseconds), .int, "1800000"),
            entry("group.initial.rebalance.delay.ms", String(groups.initialRebalanceDelayMilliseconds), .int, "0"),
            entry("group.max.size", String(groups.maximumGroupSize), .int, String(Int32.max)),
            entry("offset.metadata.max.bytes", String(groups.offsetMetadataMaximumBytes), .int, "4096"),
            entry("offsets.retention.minutes", String(groups.offsetsRetentionMilliseconds / 60_000), .int, "10080"),
            entry("offsets.retention.check.interval.ms", String(groups.offsetsRetentionCheckIntervalMilliseconds), .long, "600000"),
            entry("offsets.topic.num.partitions", String(groups.offsetsTopicPartitions), .int, "50"),
            entry("offsets.topic.replication.factor", String(offsetsTopicReplicationFactor), .short, "3"),
            entry("group.consumer.session.timeout.ms", String(groups.consumerSessionTimeoutMilliseconds), .int, "45000"),
            entry("group.consumer.heartbeat.interval.ms", String(groups.consumerHeartbeatIntervalMilliseconds), .int, "5000"),
            entry("group.consumer.max.size", String(groups.consumerMaximumGroupSize), .int, String(Int32.max)),
            entry("transaction.max.timeout.ms", String(transactions.maximumTimeoutMilliseconds), .int, "900000"),
            entry("transactional.id.expiration.ms", String(transactions.transactionalIdExpirationMilliseconds), .int, "604800000"),
            entry(
                "transactions.remove.expired.transaction.cleanup.interval.ms",
                String(transactions.transactionalIdExpirationCheckIntervalMilliseconds), .int, "3600000"),
            entry("transaction.state.log.num.partitions", String(transactions.stateTopicPartitions), .int, "50"),
            entry("transaction.state.log.replication.factor", String(transactionStateReplicationFactor), .short, "3"),
            entry("group.consumer.assignors", groups.consumerAssignors.joined(separator: ","), .list, "uniform,range"),
        ]
    }

    func setting(named name: String) -> DescribedSetting? {
        describedSettings.first { $0.name == name }
    }
}

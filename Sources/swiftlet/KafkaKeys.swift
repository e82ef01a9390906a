// Kafka 4.x broker settings that have no meaning for a single Swiftlet process (the KRaft
// quorum, JVM thread pools, replication, socket buffers, ...): a stock server.properties or a
// compose file written for the apache/kafka image carries them, so they are accepted with one
// warning instead of refused. And, for a key nobody knows, the closest known key.

enum KafkaKeys {
    /// Kafka's keys that Swiftlet accepts and ignores.
    static let notApplicable: Set<String> = [
        // KRaft roles and quorum: Swiftlet keeps its metadata itself.
        "process.roles", "controller.quorum.voters", "controller.quorum.bootstrap.servers", "controller.quorum.election.timeout.ms",
        "controller.quorum.fetch.timeout.ms", "controller.quorum.election.backoff.max.ms", "controller.quorum.append.linger.ms",
        "controller.quorum.request.timeout.ms", "controller.quorum.retry.backoff.ms", "metadata.log.dir", "metadata.log.segment.bytes",
        "metadata.log.segment.ms", "metadata.max.retention.ms", "metadata.max.retention.bytes",
        "metadata.log.max.record.bytes.between.snapshots", "metadata.log.max.snapshot.interval.ms",
        "initial.broker.registration.timeout.ms",
        "broker.heartbeat.interval.ms", "sasl.mechanism.controller.protocol", "inter.broker.protocol.version",
        "zookeeper.connect", "zookeeper.connection.timeout.ms", "zookeeper.session.timeout.ms", "broker.rack",
        "broker.id.generation.enable", "reserved.broker.max.id", "controlled.shutdown.enable", "unstable.api.versions.enable",
        "unstable.feature.versions.enable", "eligible.leader.replicas.enable",
        // Thread pools and sockets: the event loops do this work.
        "num.io.threads", "num.replica.fetchers", "num.recovery.threads.per.data.dir", "num.replica.alter.log.dirs.threads",
        "background.threads", "queued.max.requests", "socket.send.buffer.bytes", "socket.receive.buffer.bytes",
        "socket.listen.backlog.size", "socket.connection.setup.timeout.ms", "socket.connection.setup.timeout.max.ms",
        "request.timeout.ms", "max.connections", "max.connections.per.ip", "max.connections.per.ip.overrides",
        "max.connection.creation.rate", "max.incremental.fetch.session.cache.slots", "connection.failed.authentication.delay.ms",
        "sasl.server.max.receive.size", "fetch.max.bytes", "fetch.purgatory.purge.interval.requests",
        "producer.purgatory.purge.interval.requests", "delete.records.purgatory.purge.interval.requests",
        // Replication and leadership: one broker leads every partition.
        "replica.fetch.backoff.ms", "replica.socket.timeout.ms",
        "replica.socket.receive.buffer.bytes", "replica.high.watermark.checkpoint.interval.ms", "replica.selector.class",
        "delete.topic.enable",
        "share.coordinator.state.topic.replication.factor", "share.coordinator.state.topic.min.isr",
        "share.coordinator.state.topic.num.partitions", "share.coordinator.state.topic.segment.bytes",
        // Storage details Swiftlet decides itself.
        "log.flush.interval.messages", "log.flush.scheduler.interval.ms", "log.flush.offset.checkpoint.interval.ms",
        "log.flush.start.offset.checkpoint.interval.ms", "log.recovery.point.checkpoint.interval.ms", "log.preallocate",
        "log.cleaner.enable", "log.cleaner.threads", "log.cleaner.dedupe.buffer.size", "log.cleaner.io.buffer.size",
        "log.cleaner.io.buffer.load.factor", "log.cleaner.io.max.bytes.per.second", "log.index.size.max.bytes",
        "log.segment.delete.delay.ms", "log.roll.jitter.ms", "log.roll.jitter.hours", "log.dir.failure.timeout.ms",
        "log.message.format.version", "log.message.timestamp.before.max.ms", "log.message.timestamp.after.max.ms",
        "log.local.retention.ms", "log.local.retention.bytes", "remote.log.storage.system.enable", "compression.type",
        "offsets.topic.segment.bytes", "offsets.topic.compression.codec", "offsets.load.buffer.size", "offsets.commit.timeout.ms",
        "transaction.state.log.segment.bytes", "transaction.state.log.load.buffer.size",
        "transaction.abort.timed.out.transaction.cleanup.interval.ms", "transaction.partition.verification.enable",
        // Coordinators and plug-ins.
        "group.coordinator.rebalance.protocols", "group.coordinator.threads", "group.coordinator.append.linger.ms",
        "group.share.enable", "group.consumer.migration.policy", "share.coordinator.threads", "alter.config.policy.class.name",
        "create.topic.policy.class.name", "principal.builder.class", "client.quota.callback.class", "password.encoder.secret",
        "quota.window.num", "quota.window.size.seconds", "sasl.kerberos.service.name",
        // Metrics: JMX reporters have no equivalent here.
        "metric.reporters", "metrics.num.samples", "metrics.sample.window.ms", "metrics.recording.level", "kafka.metrics.reporters",
        "kafka.metrics.polling.interval.secs", "auto.include.jmx.reporter",
    ]

    /// Per-listener keys (`listener.name.<name>.<key>`) of Kafka's that Swiftlet ignores: the
    /// plug-in classes of SASL mechanisms, by suffix.
    static func isNotApplicableListenerSetting(_ setting: String) -> Bool {
        notApplicable.contains(setting) || setting.hasSuffix(".sasl.server.callback.handler.class")
            || setting.hasSuffix(".sasl.login.callback.handler.class") || setting.hasSuffix(".connections.max.reauth.ms")
    }

    /// The known key closest to `key` by edit distance, when it is close enough to be a typo.
    static func suggestion(for key: String, among known: some Sequence<String>) -> String? {
        var best: (key: String, distance: Int)?
        for candidate in known {
            let distance = editDistance(key, candidate)
            if distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
        }
        guard let best, best.distance <= max(2, key.count / 4) else { return nil }
        return best.key
    }

    /// Levenshtein distance, over UTF-8 bytes (keys are ASCII).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8)
        let b = Array(b.utf8)
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

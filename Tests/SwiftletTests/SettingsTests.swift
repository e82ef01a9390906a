// The executable's settings: .properties files read as java.util.Properties reads them,
// KAFKA_* variables named as the apache/kafka image names them, Kafka's keys that do not
// apply, and unknown keys refused together with the closest known key.

import Broker
import Testing

@testable import swiftlet

@Suite struct SettingsTests {
    func parsed(_ text: String) throws -> [String] {
        try ServerProperties.parse(text, source: "test.properties").map { "\($0.key)=\($0.value)" }
    }

    @Test func propertiesAsJavaReadsThem() throws {
        #expect(try parsed("a=1\nb:2\nc 3\n  d  =  4\ne\t:\t5\nf\n") == ["a=1", "b=2", "c=3", "d=4", "e=5", "f="])
        #expect(try parsed("# comment\n! also a comment\n\n   \nkey=value # not a comment\n") == ["key=value # not a comment"])
        #expect(try parsed("path=/a\\\n    /b\\\n/c\nnext=1") == ["path=/a/b/c", "next=1"])
        #expect(try parsed("even=ends in a backslash\\\\\nnext=1") == ["even=ends in a backslash\\", "next=1"])
        #expect(try parsed("a\\=b=c\nx\\ y=z\nu=\\u0041\\t\\n") == ["a=b=c", "x y=z", "u=A\t\n"])
        #expect(try parsed("windows=1\r\nmac=2\rlast=3") == ["windows=1", "mac=2", "last=3"])
        #expect(try parsed("# a comment ending in a backslash does not go on \\\nkey=1") == ["key=1"])
        #expect(throws: (any Error).self) { try parsed("bad=\\u00G1") }
    }

    @Test func kafkaImageVariablesMapToKeys() {
        #expect(SettingSources.kafkaKey(forVariable: "KAFKA_LOG_DIRS") == "log.dirs")
        #expect(SettingSources.kafkaKey(forVariable: "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP") == "listener.security.protocol.map")
        #expect(SettingSources.kafkaKey(forVariable: "KAFKA_SOME__DASHED___UNDERSCORED_KEY") == "some-dashed_underscored.key")
        #expect(SettingSources.swiftletKey(forVariable: "SWIFTLET_NUM_PARTITIONS") == "num.partitions")
    }

    @Test func environmentPrecedenceAndUnknownVariables() throws {
        var configuration = BrokerConfiguration()
        var sources = SettingSources()
        try sources.apply(
            environment: [
                "KAFKA_NUM_PARTITIONS": "4", "SWIFTLET_NUM_PARTITIONS": "5", "KAFKA_PROCESS_ROLES": "broker,controller",
                "KAFKA_HEAP_OPTS": "-Xmx1G", "SWIFTLET_HOME": "/opt/swiftlet", "KAFKA_LOG_RETENTION_HOURS": "2",
                "CLUSTER_ID": "MkU3OEVBNTcwNTJENDM2Qk",
            ], to: &configuration)
        #expect(configuration.defaultPartitions == 5)
        #expect(configuration.logDefaults.retentionMilliseconds == 7_200_000)
        #expect(configuration.clusterId == "MkU3OEVBNTcwNTJENDM2Qk")
        #expect(
            sources.warnings == [
                "these Kafka settings do not apply to Swiftlet and are ignored: process.roles",
                "these variables name no setting and are ignored: SWIFTLET_HOME",
            ])
        try sources.check()  // variables never fail for being unknown
        #expect(throws: (any Error).self) {
            try sources.apply(environment: ["KAFKA_NUM_PARTITIONS": "many"], to: &configuration)
        }
        #expect(throws: (any Error).self) { try SettingSources.flag("SWIFTLET_MEMORY", in: ["SWIFTLET_MEMORY": "maybe"]) }
        #expect(try SettingSources.flag("SWIFTLET_MEMORY", in: ["SWIFTLET_MEMORY": "on"]))
        #expect(throws: (any Error).self) { try SettingSources.integer("SWIFTLET_REACTORS", in: ["SWIFTLET_REACTORS": "two"], minimum: 1) }
    }

    @Test func unknownFileKeysFailTogetherWithSuggestions() throws {
        var configuration = BrokerConfiguration()
        var sources = SettingSources()
        let pairs = try ServerProperties.parse(
            "num.partition=3\nlog.retention.hour=1\nnum.io.threads=8\ncompletely.made.up=1\n", source: "server.properties")
        try sources.apply(file: pairs, path: "server.properties", to: &configuration)
        do {
            try sources.check()
            Issue.record("unknown keys were accepted")
        } catch {
            #expect(
                "\(error)"
                    == "unknown settings: num.partition (did you mean num.partitions?), log.retention.hour (did you mean log.retention.hours?), completely.made.up"
            )
        }
        #expect(sources.warnings == ["these Kafka settings do not apply to Swiftlet and are ignored: num.io.threads"])
    }

    @Test func theControllerListenerIsNotServed() throws {
        var configuration = BrokerConfiguration()
        var sources = SettingSources()
        let stock = """
            process.roles=broker,controller
            node.id=1
            controller.quorum.bootstrap.servers=localhost:9093
            listeners=PLAINTEXT://:9092,CONTROLLER://:9093
            inter.broker.listener.name=PLAINTEXT
            advertised.listeners=PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093
            controller.listener.names=CONTROLLER
            listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
            log.dirs=/tmp/kraft-combined-logs
            """
        try sources.apply(file: ServerProperties.parse(stock, source: "server.properties"), path: "server.properties", to: &configuration)
        try sources.check()
        try configuration.resolveListeners()
        #expect(configuration.listeners.map(\.name) == ["PLAINTEXT"])
        #expect(configuration.listeners.first?.address.description == "0.0.0.0:9092")
        #expect(configuration.listeners.first?.advertisedHost == "localhost")
        #expect(configuration.dataDirectory == "/tmp/kraft-combined-logs")
    }

    @Test func interBrokerListenerCredentialsAndReplicaFetches() throws {
        var configuration = BrokerConfiguration()
        var sources = SettingSources()
        let text = #"""
            listeners=INTERNAL://127.0.0.1:9093,CLIENTS://127.0.0.1:9092
            listener.security.protocol.map=INTERNAL:SASL_PLAINTEXT,CLIENTS:SASL_PLAINTEXT
            inter.broker.listener.name=internal
            sasl.mechanism.inter.broker.protocol=SCRAM-SHA-256
            sasl.enabled.mechanisms=SCRAM-SHA-256,PLAIN
            listener.name.internal.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="broker-secret";
            sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="other" password="x" user_other="x";
            replica.fetch.wait.max.ms=100
            replica.fetch.min.bytes=16384
            """#
        try sources.apply(file: ServerProperties.parse(text, source: "server.properties"), path: "server.properties", to: &configuration)
        try sources.check()
        try configuration.resolveListeners()
        #expect(configuration.interBrokerListenerName == "INTERNAL")
        #expect(configuration.replicaFetch.waitMaximumMilliseconds == 100 && configuration.replicaFetch.minimumBytes == 16_384)
        #expect(configuration.sasl.interBrokerMechanism == "SCRAM-SHA-256")
        #expect(
            configuration.sasl.clientCredential(listener: "INTERNAL", mechanism: "SCRAM-SHA-256")
                == .init(user: "broker", password: "broker-secret"))
        // Kafka's fallback: sasl.jaas.config.
        #expect(configuration.sasl.clientCredential(listener: "CLIENTS", mechanism: "PLAIN") == .init(user: "other", password: "x"))
        #expect(Broker.interBrokerProblem(configuration) == nil)

        var unserved = configuration
        unserved.sasl.interBrokerMechanism = "GSSAPI"
        #expect(Broker.interBrokerProblem(unserved)?.hasPrefix("sasl.mechanism.inter.broker.protocol GSSAPI") == true)
        var unknown = configuration
        unknown.interBrokerListenerName = "REPLICATION"
        #expect(Broker.interBrokerProblem(unknown) == "inter.broker.listener.name REPLICATION is not one of the listeners")
        var withoutCredential = configuration
        withoutCredential.sasl.clientCredentials = [:]
        #expect(Broker.interBrokerProblem(withoutCredential)?.hasPrefix("listener.name.internal.scram-sha-256.sasl.jaas.config") == true)
        var overTLS = configuration
        overTLS.listeners[0].securityProtocol = .saslSsl
        #expect(Broker.interBrokerProblem(overTLS)?.contains("uses TLS") == true)
    }

    @Test func seedTopicsParse() throws {
        #expect(try SeedTopic(parsing: "events") == SeedTopic(name: "events"))
        #expect(
            try SeedTopic(parsing: "orders:3:cleanup.policy=compact,retention.ms=60000")
                == SeedTopic(name: "orders", partitions: 3, configs: ["cleanup.policy": "compact", "retention.ms": "60000"]))
        #expect(try SeedTopic(parsing: "logs::retention.ms=1000") == SeedTopic(name: "logs", configs: ["retention.ms": "1000"]))
        for bad in ["", "a/b", "t:0", "t:x", "t:1:novalue", "t:1:retention.ms=soon", "t:1:no.such.config=1"] {
            #expect(throws: SeedTopic.Invalid.self) { try SeedTopic(parsing: bad) }
        }
    }
}

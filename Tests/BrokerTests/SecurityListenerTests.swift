// Listeners as Kafka writes them, and SASL on a connection: the handshake, PLAIN and SCRAM
// through SaslAuthenticate, what a connection may send before authenticating, and refusals
// with Kafka's codes. The mechanisms themselves are tested in SecurityTests.

import Glibc
import KafkaProtocol
import Security
import SystemCalls
import TestSupport
import Testing

@testable import Broker

@Suite struct ListenerParsingTests {
    @Test func namesProtocolsAndAdvertisedAddresses() throws {
        let map = try Listener.parse(protocolMap: "INTERNAL:SASL_SSL, clients:sasl_plaintext")
        let listeners = try Listener.parse(listeners: "PLAINTEXT://:9092, INTERNAL://127.0.0.1:9093,CLIENTS://[::1]:9094", protocolMap: map)
        #expect(listeners.map(\.name) == ["PLAINTEXT", "INTERNAL", "CLIENTS"])
        #expect(listeners.map(\.securityProtocol) == [.plaintext, .saslSsl, .saslPlaintext])
        #expect(listeners.map(\.address.description) == ["0.0.0.0:9092", "127.0.0.1:9093", "[::1]:9094"])
        #expect(try Listener.parse(listeners: "127.0.0.1:9092", protocolMap: map) == [.plaintext(SocketAddress("127.0.0.1:9092")!)])
        var advertised = listeners
        try Listener.advertise("INTERNAL://broker-1.internal:19093,PLAINTEXT://localhost:9092", on: &advertised)
        #expect(advertised[1].advertised(boundTo: SocketAddress("127.0.0.1:9093")!) == ("broker-1.internal", 19093))
        #expect(advertised[2].advertised(boundTo: SocketAddress("[::1]:40000")!) == ("::1", 40000))
    }

    @Test func mistakesNameTheKey() {
        func message(_ body: () throws -> Void) -> String? {
            do {
                try body()
                return nil
            } catch {
                return (error as? ListenerError)?.message
            }
        }
        let map = Listener.defaultProtocolMap
        #expect(
            message { _ = try Listener.parse(listeners: "WEIRD://127.0.0.1:1", protocolMap: map) }?.contains(
                "listener.security.protocol.map") == true)
        #expect(message { _ = try Listener.parse(listeners: "PLAINTEXT://nohost", protocolMap: map) }?.contains("is not host:port") == true)
        #expect(message { _ = try Listener.parse(listeners: "PLAINTEXT://:1,PLAINTEXT://:2", protocolMap: map) }?.contains("twice") == true)
        #expect(message { _ = try Listener.parse(protocolMap: "A:TLS") }?.hasPrefix("listener.security.protocol.map") == true)
        var listeners = [Listener.plaintext(SocketAddress("127.0.0.1:9092")!)]
        #expect(message { try Listener.advertise("OTHER://h:1", on: &listeners) }?.contains("no listener named OTHER") == true)
        #expect(message { try Listener.advertise("0.0.0.0:1", on: &listeners) }?.contains("cannot be advertised") == true)
    }

    @Test func theMetaAddressIsNotAdvertised() throws {
        var configuration = BrokerConfiguration()
        configuration.listenerSettings.listeners = "PLAINTEXT://:9092"
        #expect(throws: ListenerError.self) { try configuration.resolveListeners() }
        configuration.listenerSettings.advertised = "PLAINTEXT://broker.example:9092"
        try configuration.resolveListeners()
        #expect(configuration.listeners[0].advertisedHost == "broker.example")
    }

    @Test func saslListenersNeedAServedMechanismAndUsers() {
        let listener = Listener(name: "CLIENTS", address: SocketAddress("127.0.0.1:1")!, securityProtocol: .saslPlaintext)
        var settings = SaslSettings()
        #expect(settings.problem(with: listener)?.hasPrefix("sasl.enabled.mechanisms: GSSAPI is not served") == true)
        settings.listenerMechanisms["CLIENTS"] = ["PLAIN"]
        #expect(settings.problem(with: listener)?.hasPrefix("listener.name.clients.plain.sasl.jaas.config") == true)
        settings.plainUsers = SaslSettings.plainUsers(
            jaas:
                #"org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="a" user_admin="a" user_bob="b=c";"#
        )!
        #expect(settings.plainUsers == ["admin": "a", "bob": "b=c"])
        #expect(settings.problem(with: listener) == nil)
        #expect(SaslSettings.plainUsers(jaas: #"Module required user_x="unterminated"#) == nil)
    }
}

@Suite struct SaslConnectionTests {
    func withSaslBroker(_ body: (Broker, SocketAddress) throws -> Void) throws {
        try withBroker({
            $0.listeners = [Listener(name: "SASL_PLAINTEXT", address: SocketAddress("127.0.0.1:0")!, securityProtocol: .saslPlaintext)]
            $0.sasl.enabledMechanisms = ["PLAIN", "SCRAM-SHA-512"]
            $0.sasl.plainUsers = ["alice": "alice-secret"]
        }) { broker, address in try body(broker, address) }
    }

    func handshake(_ client: KafkaTestClient, _ mechanism: String) throws -> SaslHandshakeResponse {
        try client.send(SaslHandshakeRequest(mechanism: mechanism), version: 1)
    }

    @Test func plainThenRequestsFlow() throws {
        try withSaslBroker { _, address in
            let client = try KafkaTestClient(address)
            _ = try client.send(ApiVersionsRequest(), version: 3)
            let shaken = try handshake(client, "PLAIN")
            #expect(shaken.errorCode == 0 && shaken.mechanisms == ["PLAIN", "SCRAM-SHA-512"])
            let authenticated = try client.send(SaslAuthenticateRequest(authBytes: Array("\0alice\0alice-secret".utf8)), version: 2)
            #expect(authenticated.errorCode == 0 && authenticated.sessionLifetimeMs == 0)
            #expect(try client.send(MetadataRequest(topics: []), version: 12).brokers.count == 1)
            // Authenticated already: a second exchange is an illegal state.
            #expect(try handshake(client, "PLAIN").errorCode == ErrorCode.illegalSaslState.rawValue)
        }
    }

    @Test func scramWithCredentialsFromAlterUserScramCredentials() throws {
        try withSaslBroker { broker, address in
            let credential = ScramCredential(mechanism: .sha512, password: "bob-secret")
            try broker.scramCredentials.update { existing in
                var next = existing
                next["bob", default: [:]][ScramMechanism.sha512.kafkaType] = credential
                return (next, ())
            }
            let client = try KafkaTestClient(address)
            #expect(try handshake(client, "SCRAM-SHA-512").errorCode == 0)
            let bare = "n=bob,r=fyko+d2lbbFgONRv9qkxdawL"
            let first = try client.send(SaslAuthenticateRequest(authBytes: Array("n,,\(bare)".utf8)), version: 1)
            let serverFirst = String(decoding: first.authBytes, as: UTF8.self)
            let attributes = Dictionary(
                uniqueKeysWithValues: serverFirst.split(separator: ",").map { ($0.prefix(1), String($0.dropFirst(2))) })
            let salted = Crypto.pbkdf2(
                .sha512, password: Array("bob-secret".utf8), salt: Base64.decode(attributes["s"]!)!, iterations: Int(attributes["i"]!)!)
            let clientKey = Crypto.hmac(.sha512, key: salted, Array("Client Key".utf8))
            let withoutProof = "c=biws,r=\(attributes["r"]!)"
            let signature = Crypto.hmac(.sha512, key: Crypto.hash(.sha512, clientKey), Array("\(bare),\(serverFirst),\(withoutProof)".utf8))
            let proof = Base64.encode(zip(clientKey, signature).map { $0 ^ $1 })
            let final = try client.send(SaslAuthenticateRequest(authBytes: Array("\(withoutProof),p=\(proof)".utf8)), version: 1)
            #expect(final.errorCode == 0 && String(decoding: final.authBytes, as: UTF8.self).hasPrefix("v="))
            #expect(try client.send(MetadataRequest(topics: []), version: 12).brokers.count == 1)
        }
    }

    @Test func refusalsFollowKafka() throws {
        try withSaslBroker { _, address in
            // A request before authentication closes the connection.
            let early = try KafkaTestClient(address)
            _ = try early.sendOnly(MetadataRequest(topics: []), version: 12)
            #expect(try early.connection.readFrame() == nil)
            // A mechanism not enabled: the enabled ones, then the connection closes.
            let unsupported = try KafkaTestClient(address)
            let answer = try handshake(unsupported, "SCRAM-SHA-256")
            #expect(answer.errorCode == ErrorCode.unsupportedSaslMechanism.rawValue && answer.mechanisms == ["PLAIN", "SCRAM-SHA-512"])
            #expect(try unsupported.connection.readFrame() == nil)
            // A wrong password: SASL_AUTHENTICATION_FAILED with Kafka's message, then closed.
            let wrong = try KafkaTestClient(address)
            _ = try handshake(wrong, "PLAIN")
            let failed = try wrong.send(SaslAuthenticateRequest(authBytes: Array("\0alice\0nope".utf8)), version: 2)
            #expect(failed.errorCode == ErrorCode.saslAuthenticationFailed.rawValue)
            #expect(failed.errorMessage == "Authentication failed: Invalid username or password")
            #expect(try wrong.connection.readFrame() == nil)
        }
    }

    @Test func sessionsExpireUnlessReauthenticatedAsTheSameUser() throws {
        try withBroker({
            $0.listeners = [Listener(name: "SASL_PLAINTEXT", address: SocketAddress("127.0.0.1:0")!, securityProtocol: .saslPlaintext)]
            $0.sasl.enabledMechanisms = ["PLAIN"]
            $0.sasl.plainUsers = ["alice": "a", "bob": "b"]
            $0.connectionsMaxReauthMilliseconds = 300
        }) { _, address in
            func authenticate(_ client: KafkaTestClient, _ token: String) throws -> SaslAuthenticateResponse {
                _ = try handshake(client, "PLAIN")
                return try client.send(SaslAuthenticateRequest(authBytes: Array(token.utf8)), version: 2)
            }
            let client = try KafkaTestClient(address)
            #expect(try authenticate(client, "\0alice\0a").sessionLifetimeMs == 300)
            // Re-authenticated in time, as the same user: the connection goes on.
            #expect(try authenticate(client, "\0alice\0a").errorCode == 0)
            #expect(try client.send(MetadataRequest(topics: []), version: 12).brokers.count == 1)
            // Past the session's end without a new exchange: closed.
            let lapsed = try KafkaTestClient(address)
            _ = try authenticate(lapsed, "\0alice\0a")
            usleep(400_000)
            _ = try lapsed.sendOnly(MetadataRequest(topics: []), version: 12)
            #expect(try lapsed.connection.readFrame() == nil)
            // Another user on re-authentication: refused, and the connection closes.
            let switching = try KafkaTestClient(address)
            _ = try authenticate(switching, "\0alice\0a")
            let refused = try authenticate(switching, "\0bob\0b")
            #expect(refused.errorCode == ErrorCode.saslAuthenticationFailed.rawValue)
            #expect(refused.errorMessage == "Cannot change principals during re-authentication from User:alice: User:bob")
        }
    }

    @Test func plaintextListenersRefuseSaslRequests() throws {
        try withBroker { _, address in
            let client = try KafkaTestClient(address)
            #expect(try handshake(client, "PLAIN").errorCode == ErrorCode.illegalSaslState.rawValue)
            let authenticate = try client.send(SaslAuthenticateRequest(authBytes: []), version: 2)
            #expect(authenticate.errorCode == ErrorCode.illegalSaslState.rawValue)
        }
    }
}

@Suite struct AuthorizationOnConnectionTests {
    @Test func aFetchSessionKeepsCheckingRead() throws {
        try withBroker({ $0.authorizerEnabled = true }) { broker, address in
            _ = try broker.createTopic(name: "open", partitions: 1, configs: [:])
            _ = try broker.createTopic(name: "secret", partitions: 1, configs: [:])
            for topic in ["open", "secret"] {
                _ = try broker.logs.partition(.init(topic: topic, partition: 0))!.append(batch(["v"]), leaderEpoch: 0, now: 0)
            }
            try broker.authorizer!.create(
                ["open"].flatMap { topic in
                    [AclOperation.read, .describe].map {
                        AclBinding(
                            resourceType: ResourceType.topic.rawValue, resourceName: topic, patternType: PatternType.literal.rawValue,
                            principal: "User:ANONYMOUS", host: "*", operation: $0.rawValue, permission: AclPermission.allow.rawValue)
                    }
                })
            let client = try KafkaTestClient(address)
            func partition(_ topic: String) -> FetchRequest.FetchTopic {
                .init(topic: topic, partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)])
            }
            // A new session naming both topics: the secret one is refused...
            let full = try client.send(
                FetchRequest(maxBytes: 1 << 20, sessionId: 0, sessionEpoch: 0, topics: [partition("open"), partition("secret")]),
                version: 12)
            let byTopic = Dictionary(uniqueKeysWithValues: full.responses.map { ($0.topic, $0.partitions[0]) })
            #expect(byTopic["open"]?.errorCode == 0 && (byTopic["open"]?.records?.count ?? 0) > 0)
            #expect(byTopic["secret"]?.errorCode == ErrorCode.topicAuthorizationFailed.rawValue)
            // ...and stays refused in the session's incremental fetches, which name no topic.
            let incremental = try client.send(FetchRequest(maxBytes: 1 << 20, sessionId: full.sessionId, sessionEpoch: 1), version: 12)
            #expect(incremental.responses.contains { $0.topic == "secret" })
            for response in incremental.responses where response.topic == "secret" {
                #expect(response.partitions[0].errorCode == ErrorCode.topicAuthorizationFailed.rawValue)
                #expect((response.partitions[0].records?.count ?? 0) == 0)
            }
            // Metadata lists only what ANONYMOUS may describe, with what it may do there:
            // READ (bit 3) and DESCRIBE (bit 8).
            let metadata = try client.send(MetadataRequest(topics: nil, includeTopicAuthorizedOperations: true), version: 12)
            #expect(metadata.topics.map(\.name) == ["open"])
            #expect(metadata.topics.first?.topicAuthorizedOperations == (1 << 3) | (1 << 8))
        }
    }

    /// A fetch or OffsetForLeaderEpoch that claims to come from a replica moves high
    /// watermarks and cuts logs: it needs CLUSTER_ACTION, which a consumer's does not.
    @Test func requestsAsAReplicaNeedClusterAction() throws {
        try withBroker({ $0.authorizerEnabled = true }) { broker, address in
            _ = try broker.createTopic(name: "open", partitions: 1, configs: [:])
            try broker.authorizer!.create(
                [AclOperation.read, .describe].map {
                    AclBinding(
                        resourceType: ResourceType.topic.rawValue, resourceName: "open", patternType: PatternType.literal.rawValue,
                        principal: "User:ANONYMOUS", host: "*", operation: $0.rawValue, permission: AclPermission.allow.rawValue)
                })
            let client = try KafkaTestClient(address)
            let topics = [
                FetchRequest.FetchTopic(topic: "open", partitions: [.init(partition: 0, fetchOffset: 0, partitionMaxBytes: 1 << 20)])
            ]
            let asConsumer = try client.send(FetchRequest(maxBytes: 1 << 20, topics: topics), version: 12)
            #expect(asConsumer.errorCode == 0 && asConsumer.responses.first?.partitions.first?.errorCode == 0)
            for version: Int16 in [12, 15] {
                var asReplica = FetchRequest(maxBytes: 1 << 20, topics: topics)
                if version >= 15 { asReplica.replicaState.replicaId = 2 } else { asReplica.replicaId = 2 }
                #expect(try client.send(asReplica, version: version).errorCode == ErrorCode.clusterAuthorizationFailed.rawValue)
            }
            let epochs = [
                OffsetForLeaderEpochRequest.OffsetForLeaderTopic(topic: "open", partitions: [.init(partition: 0, leaderEpoch: 0)])
            ]
            let consumer = try client.send(OffsetForLeaderEpochRequest(replicaId: -1, topics: epochs), version: 4)
            #expect(consumer.topics[0].partitions[0].errorCode == 0)
            let replica = try client.send(OffsetForLeaderEpochRequest(replicaId: 2, topics: epochs), version: 4)
            #expect(replica.topics[0].partitions[0].errorCode == ErrorCode.clusterAuthorizationFailed.rawValue)
            // Granted CLUSTER_ACTION (as a broker's principal is, a super user), it may.
            try broker.authorizer!.create([
                AclBinding(
                    resourceType: ResourceType.cluster.rawValue, resourceName: "kafka-cluster", patternType: PatternType.literal.rawValue,
                    principal: "User:ANONYMOUS", host: "*", operation: AclOperation.clusterAction.rawValue,
                    permission: AclPermission.allow.rawValue)
            ])
            #expect(
                try client.send(OffsetForLeaderEpochRequest(replicaId: 2, topics: epochs), version: 4).topics[0].partitions[0].errorCode
                    == 0)
        }
    }

    @Test func anUnauthenticatedClientCannotSendALargeFrame() throws {
        try withBroker({
            $0.listeners = [Listener(name: "SASL_PLAINTEXT", address: SocketAddress("127.0.0.1:0")!, securityProtocol: .saslPlaintext)]
            $0.sasl.enabledMechanisms = ["PLAIN"]
            $0.sasl.plainUsers = ["alice": "x"]
        }) { _, address in
            // Only a size over sasl.server.max.receive.size (512 KiB): closed before anything is kept.
            let client = try KafkaTestClient(address)
            try client.connection.send(withUnsafeBytes(of: Int32(600_000).bigEndian) { Array($0) })
            #expect(try client.connection.readFrame() == nil)
        }
    }
}

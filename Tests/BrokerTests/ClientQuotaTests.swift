// Client quotas: Kafka's precedence between user, client id and default entities, the byte
// rate over its 11 one-second windows and the throttle time it gives, and the two APIs.

import KafkaProtocol
import SystemCalls
import TestSupport
import Testing

@testable import Broker

@Suite struct ClientQuotaTests {
    @Test func theMostSpecificQuotaApplies() throws {
        let quotas = try ClientQuotas(dataDirectory: nil)
        try quotas.alter([
            (QuotaEntity(parts: ["user": "alice", "client-id": "app"]), [("producer_byte_rate", 100)]),
            (QuotaEntity(parts: ["user": "alice"]), [("producer_byte_rate", 200)]),
            (QuotaEntity(parts: ["user": nil]), [("producer_byte_rate", 300)]),
            (QuotaEntity(parts: ["client-id": "batch"]), [("producer_byte_rate", 400)]),
        ])
        #expect(quotas.quota(user: "alice", clientId: "app", key: "producer_byte_rate")?.limit == 100)
        #expect(quotas.quota(user: "alice", clientId: "other", key: "producer_byte_rate")?.limit == 200)
        #expect(quotas.quota(user: "bob", clientId: "batch", key: "producer_byte_rate")?.limit == 300)  // default user first
        #expect(quotas.quota(user: "bob", clientId: "x", key: "consumer_byte_rate") == nil)
        try quotas.alter([(QuotaEntity(parts: ["user": nil]), [("producer_byte_rate", nil)])])
        #expect(quotas.quota(user: "bob", clientId: "batch", key: "producer_byte_rate")?.limit == 400)
    }

    @Test func aClientOverItsRateIsThrottledForTheExcess() throws {
        let quotas = try ClientQuotas(dataDirectory: nil)
        try quotas.alter([(QuotaEntity(parts: ["client-id": "app"]), [("producer_byte_rate", 1_000)])])
        // 10 KB in the window's first second: the rate over the 10 s window is 1,000 B/s, at the quota.
        #expect(quotas.record(bytes: 10_000, user: "u", clientId: "app", key: "producer_byte_rate", now: 100_000) == 0)
        // 10 KB more: 2,000 B/s, twice the quota: back off as long as the window again, capped at 11 s.
        let throttle = quotas.record(bytes: 10_000, user: "u", clientId: "app", key: "producer_byte_rate", now: 100_500)
        #expect(throttle == 10_000)
        // Another client id has no quota.
        #expect(quotas.record(bytes: 1 << 30, user: "u", clientId: "other", key: "producer_byte_rate", now: 100_500) == 0)
    }

    @Test func connectionAndRequestQuotas() throws {
        let quotas = try ClientQuotas(dataDirectory: nil)
        try quotas.alter([
            (QuotaEntity(parts: ["ip": nil]), [("connection_creation_rate", 1)]),
            (QuotaEntity(parts: ["client-id": "busy"]), [("request_percentage", 10)]),
        ])
        // 1 a second over the 10 s window: ten at once pass, the eleventh is refused.
        let refused = (0..<11).map { _ in quotas.recordConnection(ip: "10.0.0.9", now: 50_000) }
        #expect(refused == Array(repeating: false, count: 10) + [true])
        #expect(!quotas.recordConnection(ip: "10.0.0.10", now: 50_000))  // each IP counts apart
        // 10% of a thread: 1 s of handling in the window is 10%; 2 s is twice that.
        #expect(quotas.recordRequestTime(milliseconds: 1_000, user: "u", clientId: "busy", now: 50_000) == 0)
        #expect(quotas.recordRequestTime(milliseconds: 1_000, user: "u", clientId: "busy", now: 50_100) == 10_000)
        #expect(quotas.recordRequestTime(milliseconds: 5_000, user: "u", clientId: "idle", now: 50_100) == 0)
    }

    @Test func requestTimeOverItsShareIsAThrottleTimeInTheAnswers() throws {
        try withBroker { _, address in
            let first = try KafkaTestClient(address)
            let second = try KafkaTestClient(address)
            let quota = AlterClientQuotasRequest(
                entries: [
                    .init(
                        entity: [.init(entityType: "client-id", entityName: "broker-tests")],
                        ops: [.init(key: "request_percentage", value: 1e-9, remove: false)])
                ], validateOnly: false)
            #expect(try first.send(quota, version: 1).entries.map(\.errorCode) == [0])
            // The first metered request is answered at once, and its time puts the client id
            // over its share; the same client id on another connection hears how long to wait.
            let metadata = MetadataRequest(topics: [], allowAutoTopicCreation: false)
            #expect(try first.send(metadata, version: 12).throttleTimeMs == 0)
            let throttled = try second.send(metadata, version: 12).throttleTimeMs
            #expect(throttled > 0 && throttled <= 11_000)
        }
    }

    @Test func controllerMutationsDrawOnATokenBucket() throws {
        let quotas = try ClientQuotas(dataDirectory: nil)
        try quotas.alter([(QuotaEntity(parts: ["client-id": "admin"]), [("controller_mutation_rate", 2)])])
        func record(_ partitions: Int, strict: Bool = true, at now: Int64) -> (Bool, Int32) {
            let decision = quotas.recordMutations(partitions, user: "u", clientId: "admin", strict: strict, now: now)
            return (decision.admitted, decision.throttleMilliseconds)
        }
        // The bucket holds 11 s of the rate (22); a request may take it into debt, and while
        // in debt strict requests are refused with the time the debt takes to repay.
        #expect(record(20, at: 0) == (true, 0))
        #expect(record(10, at: 0) == (true, 0))
        #expect(record(1, at: 0) == (false, 4_000))
        #expect(record(1, at: 3_000) == (false, 1_000))
        #expect(record(1, at: 4_000) == (true, 0))
        // Older versions are admitted, throttled for the debt.
        #expect(record(5, strict: false, at: 4_000) == (true, 3_000))
        #expect(quotas.recordMutations(50, user: "u", clientId: "other", strict: true, now: 0).admitted)
    }

    @Test func topicAdministrationOverItsMutationRateIsRefused() throws {
        try withBroker { _, address in
            let client = try KafkaTestClient(address)
            let quota = AlterClientQuotasRequest(
                entries: [
                    .init(
                        entity: [.init(entityType: "client-id", entityName: "broker-tests")],
                        ops: [.init(key: "controller_mutation_rate", value: 1, remove: false)])
                ], validateOnly: false)
            #expect(try client.send(quota, version: 1).entries.map(\.errorCode) == [0])
            let first = try client.send(
                CreateTopicsRequest(topics: [.init(name: "mutations-a", numPartitions: 20, replicationFactor: 1)]), version: 7)
            #expect(first.topics.map(\.errorCode) == [0] && first.throttleTimeMs == 0)
            // 20 partitions took the 11-token bucket 9 into debt: the next creation is refused.
            let second = try client.send(
                CreateTopicsRequest(topics: [.init(name: "mutations-b", numPartitions: 1, replicationFactor: 1)]), version: 7)
            #expect(second.topics.map(\.errorCode) == [ErrorCode.throttlingQuotaExceeded.rawValue])
            #expect(second.topics.first?.errorMessage == "The throttling quota has been exceeded.")
            #expect(second.throttleTimeMs > 8_000 && second.throttleTimeMs <= 9_000)
            // DeleteTopics v4 predates the error: admitted, and throttled (on a connection of its own,
            // as the first one is muted for the throttle).
            let other = try KafkaTestClient(address)
            let deleted = try other.send(DeleteTopicsRequest(topicNames: ["mutations-a"]), version: 4)
            #expect(deleted.responses.map(\.errorCode) == [0] && deleted.throttleTimeMs > 20_000)
        }
    }

    @Test func entitiesAreCheckedAsKafkaChecksThem() {
        #expect(ClientQuotas.problem(entity: QuotaEntity(parts: ["user": "a"]), keys: ["producer_byte_rate"], values: [1]) == nil)
        #expect(ClientQuotas.problem(entity: QuotaEntity(parts: ["ip": "1.2.3.4"]), keys: ["connection_creation_rate"], values: [1]) == nil)
        #expect(
            ClientQuotas.problem(entity: QuotaEntity(parts: ["ip": nil, "user": "a"]), keys: [], values: [])?.contains("IP entity") == true)
        #expect(
            ClientQuotas.problem(entity: QuotaEntity(parts: ["user": "a"]), keys: ["connection_creation_rate"], values: [1])
                == "Invalid configuration key connection_creation_rate")
        #expect(
            ClientQuotas.problem(entity: QuotaEntity(parts: ["group": "a"]), keys: [], values: [])?.hasPrefix(
                "Invalid empty or unknown entity type") == true)
        #expect(
            ClientQuotas.problem(entity: QuotaEntity(parts: ["user": "a"]), keys: ["producer_byte_rate"], values: [0])
                == "Quota values must be positive")
    }

    @Test func theApisSetDescribeAndRemoveQuotas() throws {
        try withBroker { _, address in
            let client = try KafkaTestClient(address)
            let alter = AlterClientQuotasRequest(
                entries: [
                    .init(
                        entity: [.init(entityType: "user", entityName: "alice")],
                        ops: [.init(key: "producer_byte_rate", value: 1024, remove: false)]),
                    .init(
                        entity: [.init(entityType: "client-id", entityName: nil)],
                        ops: [.init(key: "consumer_byte_rate", value: 2048, remove: false)]),
                    .init(entity: [.init(entityType: "user", entityName: "bob")], ops: [.init(key: "bogus", value: 1, remove: false)]),
                ], validateOnly: false)
            let altered = try client.send(alter, version: 1)
            #expect(altered.entries.map(\.errorCode) == [0, 0, ErrorCode.invalidRequest.rawValue])
            let all = try client.send(DescribeClientQuotasRequest(components: [], strict: false), version: 1)
            #expect(all.entries?.count == 2)
            let users = try client.send(
                DescribeClientQuotasRequest(components: [.init(entityType: "user", matchType: 2, match: nil)], strict: true), version: 1)
            #expect(users.entries?.map { $0.values.map(\.key) } == [["producer_byte_rate"]])
            let defaults = try client.send(
                DescribeClientQuotasRequest(components: [.init(entityType: "client-id", matchType: 1, match: nil)], strict: false),
                version: 1)
            #expect(defaults.entries?.first?.values.first?.value == 2048)
        }
    }
}

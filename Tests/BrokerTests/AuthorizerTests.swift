// The authorizer's rules as Kafka documents them for StandardAuthorizer: literal, wildcard
// and prefixed patterns, principals and hosts with their wildcards, DENY before ALLOW, the
// implied operations, super users, allow.everyone.if.no.acl.found, and ACLs kept on disk.

import SystemCalls
import TestSupport
import Testing

@testable import Broker

@Suite struct AuthorizerTests {
    func binding(
        _ name: String, _ operation: AclOperation, type: ResourceType = .topic, pattern: PatternType = .literal,
        principal: String = "User:alice", host: String = "*", permission: AclPermission = .allow
    ) -> AclBinding {
        AclBinding(
            resourceType: type.rawValue, resourceName: name, patternType: pattern.rawValue, principal: principal, host: host,
            operation: operation.rawValue, permission: permission.rawValue)
    }

    @Test func kafkasMatchingRules() throws {
        let authorizer = try Authorizer(dataDirectory: nil, superUsers: ["User:admin"], allowEveryoneIfNoAclFound: false)
        try authorizer.create([
            binding("orders", .read),
            binding("payments-", .write, pattern: .prefixed),
            binding("*", .describe, principal: "User:*"),
            binding("payments-secret", .all, principal: "User:*", permission: .deny),
            binding("audit", .read, host: "10.0.0.1"),
            binding("billing", .read, type: .group),
            binding("kafka-cluster", .alterConfigs, type: .cluster, principal: "User:ops"),
        ])
        func allows(
            _ principal: String, _ operation: AclOperation, _ type: ResourceType = .topic, _ name: String, host: String = "127.0.0.1"
        )
            -> Bool
        {
            authorizer.authorize(principal: principal, host: host, operation: operation, resourceType: type, name: name)
        }
        let cases: [(String, AclOperation, ResourceType, String, String, Bool)] = [
            ("User:alice", .read, .topic, "orders", "127.0.0.1", true),
            ("User:alice", .write, .topic, "orders", "127.0.0.1", false),  // READ does not imply WRITE
            ("User:alice", .describe, .topic, "orders", "127.0.0.1", true),  // ... but implies DESCRIBE
            ("User:bob", .read, .topic, "orders", "127.0.0.1", false),
            ("User:bob", .describe, .topic, "orders", "127.0.0.1", true),  // the wildcard ALLOW for User:*
            ("User:alice", .write, .topic, "payments-eu", "127.0.0.1", true),  // prefixed
            ("User:alice", .write, .topic, "payments", "127.0.0.1", false),  // not under the prefix
            ("User:alice", .write, .topic, "payments-secret", "127.0.0.1", false),  // DENY wins
            ("User:alice", .read, .topic, "audit", "127.0.0.1", false),  // another host
            ("User:alice", .read, .topic, "audit", "10.0.0.1", true),
            ("User:alice", .read, .group, "billing", "127.0.0.1", true),
            ("User:alice", .read, .group, "other", "127.0.0.1", false),  // no ACL: refused
            ("User:ops", .describeConfigs, .cluster, "kafka-cluster", "127.0.0.1", true),  // implied by ALTER_CONFIGS
            ("User:ops", .alter, .cluster, "kafka-cluster", "127.0.0.1", false),
            ("User:admin", .alter, .cluster, "kafka-cluster", "127.0.0.1", true),  // super user
            ("User:admin", .write, .topic, "payments-secret", "127.0.0.1", true),
        ]
        for (principal, operation, type, name, host, expected) in cases {
            #expect(
                allows(principal, operation, type, name, host: host) == expected, "\(principal) \(operation) \(type) \(name) from \(host)")
        }
        #expect(authorizer.authorizeOnSome(principal: "User:alice", host: "127.0.0.1", operation: .write, resourceType: .topic))
        #expect(!authorizer.authorizeOnSome(principal: "User:bob", host: "127.0.0.1", operation: .write, resourceType: .topic))
    }

    @Test func someResourceOfATypeAsKafkasAuthorizeByResourceType() throws {
        let authorizer = try Authorizer(dataDirectory: nil, superUsers: [], allowEveryoneIfNoAclFound: false)
        func onSome(_ principal: String) -> Bool {
            authorizer.authorizeOnSome(principal: principal, host: "h", operation: .write, resourceType: .topic)
        }
        try authorizer.create([
            binding("payments", .write), binding("pay", .write, pattern: .prefixed, permission: .deny),
            binding("orders", .write, principal: "User:bob"), binding("orders", .write, principal: "User:bob", permission: .deny),
            binding("logs-", .write, pattern: .prefixed, principal: "User:carol"),
            binding("*", .all, principal: "User:dave"), binding("*", .write, principal: "User:dave", permission: .deny),
        ])
        #expect(!onSome("User:alice"))  // a broader DENY prefix covers the only ALLOW
        #expect(!onSome("User:bob"))  // the same literal denied
        #expect(onSome("User:carol"))
        #expect(!onSome("User:dave"))  // a DENY on the wildcard refuses outright
        let open = try Authorizer(dataDirectory: nil, superUsers: [], allowEveryoneIfNoAclFound: true)
        try open.create([binding("orders", .read, principal: "User:bob")])
        // No ACL names the dummy resource Kafka asks about: everyone is allowed then.
        #expect(open.authorizeOnSome(principal: "User:erin", host: "h", operation: .write, resourceType: .topic))
    }

    @Test func everyoneIsAllowedWhenNoAclMatchesIfConfigured() throws {
        let open = try Authorizer(dataDirectory: nil, superUsers: [], allowEveryoneIfNoAclFound: true)
        #expect(open.authorize(principal: "User:x", host: "h", operation: .write, resourceType: .topic, name: "t"))
        try open.create([binding("t", .read, principal: "User:y")])
        // Once an ACL matches the resource, only the ACLs decide.
        #expect(!open.authorize(principal: "User:x", host: "h", operation: .write, resourceType: .topic, name: "t"))
        #expect(open.authorize(principal: "User:x", host: "h", operation: .write, resourceType: .topic, name: "u"))
    }

    @Test func filtersDescribeAndDeleteAsKafkasDo() throws {
        let authorizer = try Authorizer(dataDirectory: nil, superUsers: [], allowEveryoneIfNoAclFound: false)
        try authorizer.create([
            binding("orders", .read), binding("ord", .write, pattern: .prefixed), binding("*", .describe), binding("other", .read),
        ])
        let any = AclFilter(
            resourceType: ResourceType.any.rawValue, resourceName: nil, patternType: PatternType.any.rawValue, principal: nil, host: nil,
            operation: AclOperation.any.rawValue, permission: AclPermission.any.rawValue)
        #expect(authorizer.describe(any).count == 4)
        var match = any
        match.resourceType = ResourceType.topic.rawValue
        match.resourceName = "orders"
        match.patternType = PatternType.match.rawValue
        #expect(Set(authorizer.describe(match).map(\.resourceName)) == ["orders", "ord", "*"])
        var literal = match
        literal.patternType = PatternType.literal.rawValue
        #expect(authorizer.describe(literal).map(\.resourceName) == ["orders"])
        let deleted = try authorizer.delete([literal])
        #expect(deleted.map { $0.map(\.resourceName) } == [["orders"]])
        #expect(authorizer.describe(any).count == 3)
    }

    @Test func aclsSurviveARestart() throws {
        let directory = TemporaryDirectory()
        do {
            let authorizer = try Authorizer(dataDirectory: directory.path, superUsers: [], allowEveryoneIfNoAclFound: false)
            try authorizer.create([binding("orders", .read)])
        }
        let reopened = try Authorizer(dataDirectory: directory.path, superUsers: [], allowEveryoneIfNoAclFound: false)
        #expect(reopened.authorize(principal: "User:alice", host: "h", operation: .read, resourceType: .topic, name: "orders"))
    }

    @Test func bindingsAreCheckedWithKafkasMessages() {
        #expect(AclValidation.problem(with: binding("t", .read)) == nil)
        #expect(AclValidation.problem(with: binding("t", .read, type: .any)) == "Invalid resource type")
        #expect(AclValidation.problem(with: binding("t", .read, pattern: .match)) == "Invalid pattern type: must be LITERAL or PREFIXED")
        #expect(AclValidation.problem(with: binding("t", .any)) == "Invalid operation")
        #expect(AclValidation.problem(with: binding("t", .read, principal: "alice"))?.hasPrefix("Could not parse principal") == true)
        #expect(
            AclValidation.problem(with: binding("mine", .alter, type: .cluster))
                == "The only valid name for the CLUSTER resource is kafka-cluster")
    }
}

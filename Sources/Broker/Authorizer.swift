// ACLs as Kafka's StandardAuthorizer keeps and applies them: bindings of a resource pattern
// (literal, prefixed, or the literal wildcard "*") to a principal, a host, an operation and a
// permission; super users pass; a DENY that matches wins over any ALLOW; DESCRIBE is implied
// by READ, WRITE, DELETE and ALTER, DESCRIBE_CONFIGS by ALTER_CONFIGS; a resource no ACL
// matches is refused unless allow.everyone.if.no.acl.found. Kept in acls.json (replaced
// whole), so they survive restarts and kill -9.

import FoundationEssentials
import Synchronization
import SystemCalls

/// Kafka's ACL enums, by their wire codes.
enum ResourceType: Int8 {
    case any = 1
    case topic = 2
    case group = 3
    case cluster = 4
    case transactionalId = 5
    case delegationToken = 6
    case user = 7

    /// As Kafka's logs name it: Topic, TransactionalId.
    var kafkaName: String {
        let name = "\(self)"
        return name.prefix(1).uppercased() + name.dropFirst()
    }
}

enum PatternType: Int8 {
    case any = 1
    case match = 2
    case literal = 3
    case prefixed = 4
}

enum AclOperation: Int8 {
    case any = 1
    case all = 2
    case read = 3
    case write = 4
    case create = 5
    case delete = 6
    case alter = 7
    case describe = 8
    case clusterAction = 9
    case describeConfigs = 10
    case alterConfigs = 11
    case idempotentWrite = 12
    case createTokens = 13
    case describeTokens = 14
    case twoPhaseCommit = 15

    /// As Kafka names it: WRITE, DESCRIBE_CONFIGS.
    var kafkaName: String {
        "\(self)".reduce(into: "") { name, character in
            if character.isUppercase { name += "_" }
            name += character.uppercased()
        }
    }

    /// What an ALLOW of this operation also allows (Kafka's implied operations).
    var implies: Set<AclOperation> {
        switch self {
        case .read, .write, .delete, .alter: [self, .describe]
        case .alterConfigs: [self, .describeConfigs]
        default: [self]
        }
    }
}

enum AclPermission: Int8 {
    case any = 1
    case deny = 2
    case allow = 3
}

/// One ACL, as the ACL APIs carry it.
struct AclBinding: Codable, Hashable, Sendable {
    var resourceType: Int8
    var resourceName: String
    var patternType: Int8
    var principal: String
    var host: String
    var operation: Int8
    var permission: Int8
}

/// A DescribeAcls or DeleteAcls filter; nil strings match anything.
struct AclFilter: Sendable {
    var resourceType: Int8
    var resourceName: String?
    var patternType: Int8
    var principal: String?
    var host: String?
    var operation: Int8
    var permission: Int8

    /// Kafka's AclBindingFilter.matches: ANY matches every value; MATCH matches the bindings
    /// that would apply to the named resource (literal, wildcard and prefixes of it).
    func matches(_ binding: AclBinding) -> Bool {
        if resourceType != ResourceType.any.rawValue && resourceType != binding.resourceType { return false }
        if let principal, principal != binding.principal { return false }
        if let host, host != binding.host { return false }
        if operation != AclOperation.any.rawValue && operation != binding.operation { return false }
        if permission != AclPermission.any.rawValue && permission != binding.permission { return false }
        switch PatternType(rawValue: patternType) {
        case .any:
            return resourceName.map { $0 == binding.resourceName } ?? true
        case .match:
            guard let resourceName else { return true }
            switch PatternType(rawValue: binding.patternType) {
            case .literal: return binding.resourceName == resourceName || binding.resourceName == "*"
            case .prefixed: return resourceName.hasPrefix(binding.resourceName)
            default: return false
            }
        default:
            return patternType == binding.patternType && (resourceName.map { $0 == binding.resourceName } ?? true)
        }
    }
}

final class Authorizer: Sendable {
    /// super.users: principals every check lets through.
    let superUsers: Set<String>
    /// allow.everyone.if.no.acl.found
    let allowEveryoneIfNoAclFound: Bool

    private struct Index {
        var bindings: Set<AclBinding> = []
        /// Literal bindings by resource type and name (the wildcard "*" among them), and
        /// prefixed ones by type: a check looks up its name, it does not scan every ACL.
        var literal: [Int8: [String: [AclBinding]]] = [:]
        var prefixed: [Int8: [AclBinding]] = [:]

        init(_ bindings: Set<AclBinding>) {
            self.bindings = bindings
            for binding in bindings {
                if binding.patternType == PatternType.prefixed.rawValue {
                    prefixed[binding.resourceType, default: []].append(binding)
                } else {
                    literal[binding.resourceType, default: [:]][binding.resourceName, default: []].append(binding)
                }
            }
        }

        func applying(to type: Int8, name: String) -> [AclBinding] {
            (literal[type]?[name] ?? []) + (name == "*" ? [] : literal[type]?["*"] ?? [])
                + (prefixed[type] ?? []).filter { name.hasPrefix($0.resourceName) }
        }
    }

    let document: SharedDocument
    private let index: Mutex<Index>
    private let writeLock = Lock()

    convenience init(dataDirectory: String?, superUsers: Set<String>, allowEveryoneIfNoAclFound: Bool) throws {
        try self.init(
            document: SharedDocument(dataDirectory.map { .file(path: $0 + "/" + Self.fileName) } ?? .memory), superUsers: superUsers,
            allowEveryoneIfNoAclFound: allowEveryoneIfNoAclFound)
    }

    init(document: SharedDocument, superUsers: Set<String>, allowEveryoneIfNoAclFound: Bool) throws {
        self.document = document
        self.superUsers = superUsers
        self.allowEveryoneIfNoAclFound = allowEveryoneIfNoAclFound
        index = Mutex(Index(try Self.decode(document.bytes)))
    }

    static let fileName = "acls.json"

    private static func decode(_ bytes: [UInt8]?) throws -> Set<AclBinding> {
        Set(try bytes.map { try JSONDecoder().decode([AclBinding].self, from: Data($0)) } ?? [])
    }

    /// Reads the document again: another broker of the cluster changed it.
    func reload() throws {
        try writeLock.withLock {
            let loaded = try Self.decode(document.reread())
            index.withLock { $0 = Index(loaded) }
        }
    }

    /// Whether `principal`, connected from `host`, may do `operation` on the resource.
    func authorize(principal: String, host: String, operation: AclOperation, resourceType: ResourceType, name: String) -> Bool {
        if superUsers.contains(principal) { return true }
        let applying = index.withLock { $0.applying(to: resourceType.rawValue, name: name) }
        if applying.isEmpty { return allowEveryoneIfNoAclFound }
        var allowed = false
        for binding in applying {
            guard binding.principal == principal || binding.principal == "User:*", binding.host == "*" || binding.host == host,
                let granted = AclOperation(rawValue: binding.operation)
            else { continue }
            if binding.permission == AclPermission.deny.rawValue {
                if granted == .all || granted == operation { return false }
            } else if binding.permission == AclPermission.allow.rawValue {
                if granted == .all || granted.implies.contains(operation) { allowed = true }
            }
        }
        return allowed
    }

    /// Whether some resource of the type allows `operation` to the principal, as Kafka's
    /// authorizeByResourceType: a DENY on the wildcard refuses outright; an ALLOW counts when
    /// no DENY covers it (a literal, or a prefix of its name); with none, the answer for a
    /// resource no ACL names (allow.everyone.if.no.acl.found) decides.
    func authorizeOnSome(principal: String, host: String, operation: AclOperation, resourceType: ResourceType) -> Bool {
        if superUsers.contains(principal) { return true }
        let relevant = index.withLock { $0.bindings }.filter { binding in
            binding.resourceType == resourceType.rawValue && (binding.principal == principal || binding.principal == "User:*")
                && (binding.host == "*" || binding.host == host)
                && (binding.operation == operation.rawValue || binding.operation == AclOperation.all.rawValue)
        }
        let denies = relevant.filter { $0.permission == AclPermission.deny.rawValue }
        let allows = relevant.filter { $0.permission == AclPermission.allow.rawValue }
        let literal = PatternType.literal.rawValue
        if denies.contains(where: { $0.patternType == literal && $0.resourceName == "*" }) { return false }
        let deniedLiterals = Set(denies.filter { $0.patternType == literal }.map(\.resourceName))
        let deniedPrefixes = denies.filter { $0.patternType != literal }.map(\.resourceName)
        for allow in allows {
            let coveredByPrefix = deniedPrefixes.contains { allow.resourceName.hasPrefix($0) }
            if allow.patternType == literal && allow.resourceName == "*" { return true }
            if allow.patternType == literal ? !deniedLiterals.contains(allow.resourceName) && !coveredByPrefix : !coveredByPrefix {
                return true
            }
        }
        // Kafka asks about a resource no ACL is likely to name.
        return allowEveryoneIfNoAclFound
            && authorize(principal: principal, host: host, operation: operation, resourceType: resourceType, name: "hardcode")
    }

    func describe(_ filter: AclFilter) -> [AclBinding] {
        index.withLock { $0.bindings.filter(filter.matches) }
    }

    /// Adds bindings (already checked) in one write.
    func create(_ bindings: [AclBinding]) throws {
        try change { current in current.union(bindings) }
    }

    /// Removes what each filter matches, in one write; returns the matches, filter by filter.
    func delete(_ filters: [AclFilter]) throws -> [[AclBinding]] {
        var matched: [[AclBinding]] = []
        try change { current in
            matched = filters.map { filter in current.filter(filter.matches).sorted { "\($0)" < "\($1)" } }
            return current.subtracting(matched.joined())
        }
        return matched
    }

    private func change(_ body: (Set<AclBinding>) -> Set<AclBinding>) throws {
        try writeLock.withLock {
            var next: Set<AclBinding>?
            _ = try document.update { bytes in
                next = body(try Self.decode(bytes))
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                let sorted = next!.sorted {
                    ($0.resourceType, $0.resourceName, $0.principal, $0.operation) < (
                        $1.resourceType, $1.resourceName, $1.principal, $1.operation
                    )
                }
                return Array(try encoder.encode(sorted))
            }
            if let next { index.withLock { $0 = Index(next) } }
        }
    }
}

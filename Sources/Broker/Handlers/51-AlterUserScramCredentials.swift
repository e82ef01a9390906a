// AlterUserScramCredentials (key 51): records and removes users' SCRAM credentials with
// Kafka's checks (KIP-554): a user named twice in one request is DUPLICATE_RESOURCE, an empty
// name or iterations outside 4096-16384 UNACCEPTABLE_CREDENTIAL, an unknown mechanism
// UNSUPPORTED_SASL_MECHANISM, removing what is not there RESOURCE_NOT_FOUND.

import KafkaProtocol
import Security

struct AlterUserScramCredentialsHandler: ApiHandler {
    typealias Request = AlterUserScramCredentialsRequest
    let advertised: ClosedRange<Int16> = 0...0

    /// The credentials are a file write, or in a cluster a round trip to its metadata store.
    func runsOnAdminThread(
        _ request: AlterUserScramCredentialsRequest, _ context: RequestContext<AlterUserScramCredentialsRequest>
    ) -> Bool { true }

    private typealias Outcome = (order: [String], errors: [String: (ErrorCode, String)])

    func handle(_ request: AlterUserScramCredentialsRequest, _ context: RequestContext<AlterUserScramCredentialsRequest>) {
        guard context.authorized(.alter, .cluster, clusterResourceName) else {
            let users = (request.deletions.map(\.name) + request.upsertions.map(\.name)).reduce(into: [String]()) {
                if !$0.contains($1) { $0.append($1) }
            }
            return context.send(
                AlterUserScramCredentialsResponse(
                    results: users.map { .init(user: $0, errorCode: ErrorCode.clusterAuthorizationFailed.rawValue) }))
        }
        var outcome: Outcome
        do {
            outcome = try context.broker.scramCredentials.update { existing in Self.alter(existing, request) }
        } catch {
            // Nothing was kept: every user not refused already failed to be stored.
            outcome = Self.alter(context.broker.scramCredentials.all, request).1
            for user in outcome.order where outcome.errors[user] == nil { outcome.errors[user] = (.kafkaStorageError, "\(error)") }
        }
        context.send(
            AlterUserScramCredentialsResponse(
                results: outcome.order.map { user in
                    let (code, message) = outcome.errors[user] ?? (.none, nil)
                    return .init(user: user, errorCode: code.rawValue, errorMessage: message)
                }))
    }

    /// The credentials after the request (nil when it changes nothing), and each user's error.
    private static func alter(
        _ existing: ScramCredentialStore.Credentials,
        _ request: AlterUserScramCredentialsRequest
    ) -> (ScramCredentialStore.Credentials?, Outcome) {
        var order: [String] = []
        var deletions: [String: Int8] = [:]
        var upsertions: [String: (mechanism: Int8, credential: ScramCredential)] = [:]
        var errors: [String: (ErrorCode, String)] = [:]
        // As Kafka's controller: each user once per request; a second mention voids the first.
        func claim(_ user: String) -> Bool {
            if !order.contains(user) { order.append(user) }
            guard errors[user] == nil else { return false }
            if deletions.removeValue(forKey: user) != nil || upsertions.removeValue(forKey: user) != nil {
                errors[user] = (.duplicateResource, "A user credential cannot be altered twice in the same request")
                return false
            }
            return true
        }
        for deletion in request.deletions where claim(deletion.name) {
            if let error = check(deletion.name, deletion.mechanism) {
                errors[deletion.name] = error
            } else if existing[deletion.name]?[deletion.mechanism] == nil {
                errors[deletion.name] = (.resourceNotFound, "Attempt to delete a user credential that does not exist")
            } else {
                deletions[deletion.name] = deletion.mechanism
            }
        }
        for upsertion in request.upsertions where claim(upsertion.name) {
            if let error = check(upsertion.name, upsertion.mechanism) {
                errors[upsertion.name] = error
            } else if upsertion.iterations < ScramMechanism.minimumIterations {
                errors[upsertion.name] = (.unacceptableCredential, "Too few iterations")
            } else if upsertion.iterations > ScramMechanism.maximumIterations {
                errors[upsertion.name] = (.unacceptableCredential, "Too many iterations")
            } else if let mechanism = ScramMechanism(kafkaType: upsertion.mechanism) {
                // The client salted the password; the keys are derived from it here and the
                // salted password itself is not kept.
                upsertions[upsertion.name] = (
                    upsertion.mechanism,
                    ScramCredential(
                        mechanism: mechanism, saltedPassword: upsertion.saltedPassword, salt: upsertion.salt,
                        iterations: Int(upsertion.iterations))
                )
            }
        }
        guard !deletions.isEmpty || !upsertions.isEmpty else { return (nil, (order, errors)) }
        var next = existing
        for (user, mechanism) in deletions {
            next[user]?[mechanism] = nil
            if next[user]?.isEmpty == true { next[user] = nil }
        }
        for (user, upsertion) in upsertions { next[user, default: [:]][upsertion.mechanism] = upsertion.credential }
        return (next, (order, errors))
    }

    private static func check(_ user: String, _ mechanism: Int8) -> (ErrorCode, String)? {
        if user.isEmpty { return (.unacceptableCredential, "Username must not be empty") }
        if ScramMechanism(kafkaType: mechanism) == nil { return (.unsupportedSaslMechanism, "Unknown SCRAM mechanism") }
        return nil
    }
}

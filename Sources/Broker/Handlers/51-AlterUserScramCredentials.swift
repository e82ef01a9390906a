// AlterUserScramCredentials (key 51): records and removes users' SCRAM credentials with
// Kafka's checks (KIP-554): a user named twice in one request is DUPLICATE_RESOURCE, an empty
// name or iterations outside 4096-16384 UNACCEPTABLE_CREDENTIAL, an unknown mechanism
// UNSUPPORTED_SASL_MECHANISM, removing what is not there RESOURCE_NOT_FOUND.

import KafkaProtocol

struct AlterUserScramCredentialsHandler: ApiHandler {
    let apiKey = ApiKey.alterUserScramCredentials
    let advertised: ClosedRange<Int16> = 0...0

    func handle(_ context: RequestContext) {
        let request = context.request.body as! AlterUserScramCredentialsRequest
        let store = context.broker.scramCredentials
        let existing = store.all
        var order: [String] = []
        var deletions: [String: Int8] = [:]
        var upsertions: [String: (mechanism: Int8, iterations: Int32)] = [:]
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
            if let error = Self.check(deletion.name, deletion.mechanism) {
                errors[deletion.name] = error
            } else if existing[deletion.name]?[deletion.mechanism] == nil {
                errors[deletion.name] = (.resourceNotFound, "Attempt to delete a user credential that does not exist")
            } else {
                deletions[deletion.name] = deletion.mechanism
            }
        }
        for upsertion in request.upsertions where claim(upsertion.name) {
            if let error = Self.check(upsertion.name, upsertion.mechanism) {
                errors[upsertion.name] = error
            } else if upsertion.iterations < ScramMechanism.minimumIterations {
                errors[upsertion.name] = (.unacceptableCredential, "Too few iterations")
            } else if upsertion.iterations > ScramMechanism.maximumIterations {
                errors[upsertion.name] = (.unacceptableCredential, "Too many iterations")
            } else {
                upsertions[upsertion.name] = (upsertion.mechanism, upsertion.iterations)
            }
        }
        do {
            try store.apply(deletions: deletions.map { ($0.key, $0.value) },
                            upsertions: upsertions.map { ($0.key, $0.value.mechanism, $0.value.iterations) })
        } catch {
            for user in order where errors[user] == nil { errors[user] = (.kafkaStorageError, "\(error)") }
        }
        context.send(AlterUserScramCredentialsResponse(results: order.map { user in
            let (code, message) = errors[user] ?? (.none, nil)
            return .init(user: user, errorCode: code.rawValue, errorMessage: message)
        }))
    }

    static func check(_ user: String, _ mechanism: Int8) -> (ErrorCode, String)? {
        if user.isEmpty { return (.unacceptableCredential, "Username must not be empty") }
        if ScramMechanism(rawValue: mechanism) == nil { return (.unsupportedSaslMechanism, "Unknown SCRAM mechanism") }
        return nil
    }
}

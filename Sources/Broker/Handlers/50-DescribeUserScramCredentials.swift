// DescribeUserScramCredentials (key 50): Swiftlet has no SASL and stores no SCRAM
// credentials, so all users is an empty list and each named user is RESOURCE_NOT_FOUND,
// as a Kafka without credentials answers (duplicates: DUPLICATE_RESOURCE).

import KafkaProtocol

struct DescribeUserScramCredentialsHandler: ApiHandler {
    let apiKey = ApiKey.describeUserScramCredentials
    let advertised: ClosedRange<Int16> = 0...0

    func handle(_ context: RequestContext) {
        let request = context.request.body as! DescribeUserScramCredentialsRequest
        var seen: [String: Int] = [:]
        var order: [String] = []
        for user in request.users ?? [] {
            if seen[user.name] == nil { order.append(user.name) }
            seen[user.name, default: 0] += 1
        }
        context.send(DescribeUserScramCredentialsResponse(results: order.map { user in
            seen[user]! > 1
                ? .init(user: user, errorCode: ErrorCode.duplicateResource.rawValue,
                        errorMessage: "Cannot describe SCRAM credentials for the same user twice in a single request: \(user)")
                : .init(user: user, errorCode: ErrorCode.resourceNotFound.rawValue,
                        errorMessage: "Attempt to describe a user credential that does not exist: \(user)")
        }))
    }
}

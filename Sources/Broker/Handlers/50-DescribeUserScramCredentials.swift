// DescribeUserScramCredentials (key 50): the mechanisms and iteration counts recorded by
// AlterUserScramCredentials; all users for a null or empty list, a named user without any
// RESOURCE_NOT_FOUND, a user named twice DUPLICATE_RESOURCE, as Kafka answers.

import KafkaProtocol

struct DescribeUserScramCredentialsHandler: ApiHandler {
    typealias Request = DescribeUserScramCredentialsRequest
    let advertised: ClosedRange<Int16> = 0...0

    func handle(_ request: DescribeUserScramCredentialsRequest, _ context: RequestContext<DescribeUserScramCredentialsRequest>) {
        guard context.authorized(.describe, .cluster, clusterResourceName) else {
            return context.send(DescribeUserScramCredentialsResponse(errorCode: ErrorCode.clusterAuthorizationFailed.rawValue))
        }
        let credentials = context.broker.scramCredentials.all
        func described(_ user: String) -> DescribeUserScramCredentialsResponse.DescribeUserScramCredentialsResult {
            guard let mechanisms = credentials[user] else {
                return .init(
                    user: user, errorCode: ErrorCode.resourceNotFound.rawValue,
                    errorMessage: "Attempt to describe a user credential that does not exist: \(user)")
            }
            return .init(
                user: user, errorCode: 0,
                credentialInfos: mechanisms.sorted { $0.key < $1.key }.map {
                    .init(mechanism: $0.key, iterations: Int32($0.value.iterations))
                })
        }
        guard let users = request.users, !users.isEmpty else {
            return context.send(DescribeUserScramCredentialsResponse(results: credentials.keys.sorted().map(described)))
        }
        var seen: [String: Int] = [:]
        var order: [String] = []
        for user in users {
            if seen[user.name] == nil { order.append(user.name) }
            seen[user.name, default: 0] += 1
        }
        context.send(
            DescribeUserScramCredentialsResponse(
                results: order.map { user in
                    seen[user]! > 1
                        ? .init(
                            user: user, errorCode: ErrorCode.duplicateResource.rawValue,
                            errorMessage: "Cannot describe SCRAM credentials for the same user twice in a single request: \(user)")
                        : described(user)
                }))
    }
}

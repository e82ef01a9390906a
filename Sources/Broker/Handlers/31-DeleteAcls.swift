// DeleteAcls (key 31): every filter fails with SECURITY_DISABLED, Kafka's answer when no
// authorizer is configured (Swiftlet has none; see DescribeAcls).

import KafkaProtocol

struct DeleteAclsHandler: ApiHandler {
    typealias Request = DeleteAclsRequest
    let advertised: ClosedRange<Int16> = 1...3

    func handle(_ request: DeleteAclsRequest, _ context: RequestContext<DeleteAclsRequest>) {
        context.send(
            DeleteAclsResponse(
                filterResults: request.filters.map { _ in
                    .init(errorCode: ErrorCode.securityDisabled.rawValue, errorMessage: noAuthorizerMessage)
                }))
    }
}

// CreateAcls (key 30): every creation fails with SECURITY_DISABLED, Kafka's answer when no
// authorizer is configured (Swiftlet has none; see DescribeAcls).

import KafkaProtocol

struct CreateAclsHandler: ApiHandler {
    let apiKey = ApiKey.createAcls
    let advertised: ClosedRange<Int16> = 1...3

    func handle(_ context: RequestContext) {
        let request = context.request.body as! CreateAclsRequest
        context.send(CreateAclsResponse(results: request.creations.map { _ in
            .init(errorCode: ErrorCode.securityDisabled.rawValue, errorMessage: noAuthorizerMessage)
        }))
    }
}

// DescribeAcls (key 29): Swiftlet has no authorizer, so it answers as Kafka does without
// one: SECURITY_DISABLED, instead of leaving admin clients with "unsupported by the broker".

import KafkaProtocol

struct DescribeAclsHandler: ApiHandler {
    typealias Request = DescribeAclsRequest
    let advertised: ClosedRange<Int16> = 1...3

    func handle(_ request: DescribeAclsRequest, _ context: RequestContext<DescribeAclsRequest>) {
        context.send(
            DescribeAclsResponse(
                errorCode: ErrorCode.securityDisabled.rawValue,
                errorMessage: "No Authorizer is configured on the broker"))
    }
}

/// Kafka's wording for ACL changes on a broker without an authorizer.
let noAuthorizerMessage = "No Authorizer is configured."

// ListTransactions (key 66): transactional ids by state, producer id, duration (v1) and
// id pattern (v2, a regular expression matched against the whole id).

import Coordinators
import KafkaProtocol

struct ListTransactionsHandler: ApiHandler {
    typealias Request = ListTransactionsRequest
    let advertised: ClosedRange<Int16> = 0...2

    func handle(_ request: ListTransactionsRequest, _ context: RequestContext<ListTransactionsRequest>) {
        let known = Set(TransactionState.allCases.map(\.name))
        var response = ListTransactionsResponse(errorCode: 0, unknownStateFilters: request.stateFilters.filter { !known.contains($0) })
        var pattern: LinearTimeRegex?
        if let text = request.transactionalIdPattern, !text.isEmpty {
            guard let compiled = try? LinearTimeRegex(text) else {
                response.errorCode = ErrorCode.invalidRegularExpression.rawValue
                return context.send(response)
            }
            pattern = compiled
        }
        response.transactionStates = context.broker.transactions.list(
            states: request.stateFilters, producerIds: request.producerIdFilters, minimumDurationMilliseconds: request.durationFilter
        ).filter { metadata in
            (pattern.map { $0.wholeMatch(metadata.transactionalId) } ?? true)
                && context.authorized(.describe, .transactionalId, metadata.transactionalId, logIfDenied: false)
        }.map {
            .init(transactionalId: $0.transactionalId, producerId: $0.producerId, transactionState: $0.state.name)
        }
        context.send(response)
    }
}

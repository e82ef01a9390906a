// Kafka's ordering guarantee for one connection, sans IO: requests are numbered as they
// arrive, their completions come back in any order, and leave in request order.

struct ResponseSequencer<Completion> {
    enum Refusal: Error, Equatable {
        /// The number was never handed out, or its response has already left.
        case notInFlight(UInt64)
        /// A second completion for a request still waiting its turn.
        case answeredTwice(UInt64)
    }

    /// The number the next request gets.
    private(set) var nextSequence: UInt64 = 0
    /// The request whose response leaves next.
    private(set) var nextToSend: UInt64 = 0
    /// The completion of `nextToSend`, once it arrived: the usual in-order case never
    /// touches the dictionary.
    private var head: Completion?
    /// Completions that arrived before an earlier request's.
    private var waiting: [UInt64: Completion] = [:]

    /// Requests numbered whose responses have not left.
    var inFlight: UInt64 { nextSequence - nextToSend }

    /// Numbers a newly arrived request.
    mutating func register() -> UInt64 {
        defer { nextSequence += 1 }
        return nextSequence
    }

    /// Takes the completion of request `sequence`; `nextReady` then says what may leave.
    mutating func complete(_ sequence: UInt64, with completion: Completion) throws(Refusal) {
        guard sequence >= nextToSend, sequence < nextSequence else { throw .notInFlight(sequence) }
        if sequence == nextToSend {
            guard head == nil else { throw .answeredTwice(sequence) }
            head = completion
        } else {
            guard waiting[sequence] == nil else { throw .answeredTwice(sequence) }
            waiting[sequence] = completion
        }
    }

    /// The next completion in request order, when it has arrived; nil while an earlier
    /// request is still being handled.
    mutating func nextReady() -> Completion? {
        guard let completion = head else { return nil }
        nextToSend += 1
        head = waiting.isEmpty ? nil : waiting.removeValue(forKey: nextToSend)
        return completion
    }
}

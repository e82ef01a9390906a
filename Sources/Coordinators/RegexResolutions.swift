// KIP-848 regex subscriptions, resolved against the topic names off the request threads,
// once per pattern and topic set: a heartbeat answers from the last resolution while a new
// one runs (Kafka's coordinator, too, resolves them asynchronously and keeps the result),
// and the coordinator's tick updates the groups whose patterns were resolved since.

import Synchronization
import SystemCalls

final class RegexResolutions: Sendable {
    /// Runs a resolution: on the resolver thread, or in place (tests).
    typealias Executor = @Sendable (@escaping @Sendable () -> Void) -> Void

    private struct Resolution {
        let topicNames: [String]
        let matched: Set<String>
    }

    private struct State {
        var resolutions: [String: Resolution] = [:]
        /// Patterns refused because matching them against the topics costs too much.
        var refusals: [String: String] = [:]
        var pending: Set<String> = []
        /// Resolved since the last `takeResolved`.
        var resolved: Set<String> = []
        var resolver: WorkQueue?
    }

    /// Patterns kept; past it the table starts over (a client inventing patterns cannot grow it).
    static let maximumPatterns = 1_000
    private let maximumSteps: Int
    private let state = Mutex(State())
    private let executor: Executor?

    /// `executor` nil: a resolver thread of its own, made on first use.
    init(maximumSteps: Int, executor: Executor? = nil) {
        self.maximumSteps = maximumSteps
        self.executor = executor
    }

    /// The names the whole pattern matches, as last resolved: when the topics changed since
    /// (or the pattern is new), a resolution is queued and the answer is the previous one
    /// (none for a new pattern) until it completes.
    func topics(matching pattern: String, among names: [String]) -> Set<String> {
        let (known, schedule) = state.withLock { state -> (Resolution?, Bool) in
            let known = state.resolutions[pattern]
            if known?.topicNames == names || state.refusals[pattern] != nil { return (known, false) }
            return (known, state.pending.insert(pattern).inserted)
        }
        if schedule { run { [self] in resolve(pattern, among: names) } }
        // A resolution run in place is already in the table.
        return state.withLock { $0.resolutions[pattern]?.matched } ?? known?.matched ?? []
    }

    /// Why `pattern` is refused, once a resolution found it too costly.
    func refusal(for pattern: String) -> String? {
        state.withLock { $0.refusals[pattern] }
    }

    /// The patterns resolved since the last call: the groups subscribed with them need their
    /// target assignment updated.
    func takeResolved() -> Set<String> {
        state.withLock { state in
            defer { state.resolved = [] }
            return state.resolved
        }
    }

    private func run(_ work: @escaping @Sendable () -> Void) {
        if let executor { return executor(work) }
        let resolver = state.withLock { state -> WorkQueue? in
            if state.resolver == nil { state.resolver = try? WorkQueue(name: "swiftlet-regex") }
            return state.resolver
        }
        guard let resolver else { return work() }
        resolver.execute(work)
    }

    private func resolve(_ pattern: String, among names: [String]) {
        var matched = Set<String>()
        var refusal: String?
        do {
            let regex = try LinearTimeRegex(pattern)
            var budget = maximumSteps
            for name in names {
                guard let matches = regex.wholeMatch(name, budget: &budget) else {
                    refusal =
                        "SubscribedTopicRegex \(pattern) takes more than \(maximumSteps) steps to match against the \(names.count) topic names; use a simpler pattern."
                    matched = []
                    break
                }
                if matches { matched.insert(name) }
            }
        } catch {
            refusal = "SubscribedTopicRegex \(pattern) is not a valid regular expression."
        }
        state.withLock { state in
            if state.resolutions.count >= Self.maximumPatterns {
                state.resolutions.removeAll()
                state.refusals.removeAll()
            }
            if let refusal {
                state.refusals[pattern] = refusal
            } else {
                state.resolutions[pattern] = Resolution(topicNames: names, matched: matched)
            }
            state.pending.remove(pattern)
            state.resolved.insert(pattern)
        }
    }
}

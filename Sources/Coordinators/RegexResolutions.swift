// KIP-848 regex subscriptions resolved against the topic names once per pattern and topic
// set, not on every heartbeat: a heartbeat reuses the answer until a topic is created or
// deleted (Kafka, too, resolves them apart from heartbeats and keeps the result).

import Synchronization

final class RegexResolutions: Sendable {
    private struct Resolution {
        let topicNames: [String]
        let matched: Set<String>
    }

    /// Patterns kept; past it the table starts over (a client inventing patterns cannot grow it).
    static let maximumPatterns = 1_000
    private let table = Mutex<[String: Resolution]>([:])

    /// The names the whole pattern matches; none for a pattern that does not compile.
    func topics(matching pattern: String, among names: [String]) -> Set<String> {
        if let known = table.withLock({ $0[pattern] }), known.topicNames == names { return known.matched }
        let matched = (try? LinearTimeRegex(pattern)).map { regex in Set(names.filter { regex.wholeMatch($0) }) } ?? []
        table.withLock { table in
            if table.count >= Self.maximumPatterns { table.removeAll() }
            table[pattern] = Resolution(topicNames: names, matched: matched)
        }
        return matched
    }
}

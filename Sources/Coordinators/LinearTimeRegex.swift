// Regular expressions from clients (KIP-848 subscriptions, ListTransactions' id pattern),
// matched in time linear in the input: Kafka uses RE2/J for these because a backtracking
// engine (Swift's Regex included) can spin for ever on "(a+)+b", holding a reactor thread.
// RE2 syntax without captures' contents, word boundaries or flags.

/// A pattern compiled to a Thompson NFA and run as a set of states per input character.
public struct LinearTimeRegex: Sendable {
    public struct SyntaxError: Error, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// RE2's bound on {m,n}; past it, and past the program size, a pattern is refused.
    static let maximumRepeat = 1_000
    static let maximumProgramSize = 20_000

    private let program: [Instruction]

    public init(_ pattern: String) throws(SyntaxError) {
        var parser = Parser(Array(pattern.unicodeScalars))
        let tree = try parser.parse()
        var compiler = Compiler()
        try compiler.emit(tree)
        compiler.instructions.append(.match)
        program = compiler.instructions
    }

    /// Whether the whole of `text` matches (Java's Matcher.matches, as Kafka uses).
    public func wholeMatch(_ text: String) -> Bool {
        let input = Array(text.unicodeScalars)
        var current = StateSet(capacity: program.count)
        var next = StateSet(capacity: program.count)
        addState(0, at: 0, of: input.count, to: &current)
        for (position, scalar) in input.enumerated() {
            next.clear()
            for state in current.states {
                if case .scalar(let matcher) = program[state], matcher.matches(scalar) {
                    addState(state + 1, at: position + 1, of: input.count, to: &next)
                }
            }
            swap(&current, &next)
            if current.states.isEmpty { return false }
        }
        return current.states.contains { if case .match = program[$0] { true } else { false } }
    }

    /// Follows jumps, splits and anchors (which consume nothing) from `state`.
    private func addState(_ state: Int, at position: Int, of length: Int, to set: inout StateSet) {
        var pending = [state]
        while let state = pending.popLast() {
            guard set.insert(state) else { continue }
            switch program[state] {
            case .jump(let target): pending.append(target)
            case .split(let first, let second): pending.append(second); pending.append(first)
            case .textStart: if position == 0 { pending.append(state + 1) }
            case .textEnd: if position == length { pending.append(state + 1) }
            case .scalar, .match: break
            }
        }
    }
}

// MARK: Program

private enum Instruction: Sendable {
    case scalar(ScalarMatcher)
    case split(Int, Int)
    case jump(Int)
    case textStart, textEnd
    case match
}

/// One position's test: any scalar but newline (.), or a set of ranges, maybe negated.
private struct ScalarMatcher: Sendable {
    var ranges: [ClosedRange<UInt32>]
    var negated = false

    static let anyButNewline = ScalarMatcher(ranges: [10...10], negated: true)
    static func single(_ scalar: Unicode.Scalar) -> ScalarMatcher { ScalarMatcher(ranges: [scalar.value...scalar.value]) }

    func matches(_ scalar: Unicode.Scalar) -> Bool {
        ranges.contains { $0.contains(scalar.value) } != negated
    }
}

/// The NFA states reached so far, each once, in the order reached.
private struct StateSet {
    private(set) var states: [Int] = []
    private var present: [Bool]

    init(capacity: Int) { present = Array(repeating: false, count: capacity) }

    mutating func insert(_ state: Int) -> Bool {
        if present[state] { return false }
        present[state] = true
        states.append(state)
        return true
    }

    mutating func clear() {
        for state in states { present[state] = false }
        states.removeAll(keepingCapacity: true)
    }
}

// MARK: Syntax tree

private indirect enum Node {
    case empty
    case scalar(ScalarMatcher)
    case textStart, textEnd
    case concatenation([Node])
    case alternation([Node])
    case repetition(Node, minimum: Int, maximum: Int?)
}

private struct Parser {
    let pattern: [Unicode.Scalar]
    var position = 0

    init(_ pattern: [Unicode.Scalar]) { self.pattern = pattern }

    private var peek: Unicode.Scalar? { position < pattern.count ? pattern[position] : nil }

    private func failure(_ message: String) -> LinearTimeRegex.SyntaxError {
        LinearTimeRegex.SyntaxError(message: "\(message) at position \(position)")
    }

    mutating func parse() throws(LinearTimeRegex.SyntaxError) -> Node {
        let node = try alternation()
        if position < pattern.count { throw failure("unmatched )") }
        return node
    }

    private mutating func alternation() throws(LinearTimeRegex.SyntaxError) -> Node {
        var branches = [try concatenation()]
        while peek == "|" {
            position += 1
            branches.append(try concatenation())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    private mutating func concatenation() throws(LinearTimeRegex.SyntaxError) -> Node {
        var items: [Node] = []
        while let scalar = peek, scalar != "|", scalar != ")" {
            var item = try atom()
            var quantified = false
            while let quantifier = peek, ["*", "+", "?", "{"].contains(quantifier) {
                guard let (minimum, maximum) = try repetitionBounds() else { break }
                // "a**" is refused as RE2 does; "(a*)*" is fine.
                if quantified { throw failure("bad repetition operator") }
                quantified = true
                item = .repetition(item, minimum: minimum, maximum: maximum)
                if peek == "?" { position += 1 }  // lazy: same answer for a whole match
            }
            items.append(item)
        }
        return items.isEmpty ? .empty : items.count == 1 ? items[0] : .concatenation(items)
    }

    /// *, +, ? or {m}, {m,}, {m,n}; nil for a "{" that is a literal (RE2 reads it so).
    private mutating func repetitionBounds() throws(LinearTimeRegex.SyntaxError) -> (Int, Int?)? {
        let start = position
        switch pattern[position] {
        case "*": position += 1; return (0, nil)
        case "+": position += 1; return (1, nil)
        case "?": position += 1; return (0, 1)
        default: break
        }
        position += 1
        guard let minimum = number() else { position = start; return nil }
        var maximum: Int? = minimum
        if peek == "," {
            position += 1
            maximum = number()
        }
        guard peek == "}" else { position = start; return nil }
        position += 1
        if minimum > LinearTimeRegex.maximumRepeat || (maximum ?? 0) > LinearTimeRegex.maximumRepeat {
            throw failure("bad repetition operator (more than \(LinearTimeRegex.maximumRepeat))")
        }
        if let maximum, maximum < minimum { throw failure("bad repetition operator") }
        return (minimum, maximum)
    }

    private mutating func number() -> Int? {
        var value: Int?
        while let scalar = peek, let digit = Int(String(scalar)), scalar.isASCII {
            value = min((value ?? 0) * 10 + digit, Int(Int32.max))
            position += 1
        }
        return value
    }

    private mutating func atom() throws(LinearTimeRegex.SyntaxError) -> Node {
        let scalar = pattern[position]
        position += 1
        switch scalar {
        case "(":
            if peek == "?" {
                // Only non-capturing (?:...) and named (?P<name>...) / (?<name>...) groups.
                position += 1
                if peek == ":" {
                    position += 1
                } else if peek == "P" || peek == "<" {
                    while let next = peek, next != ">" { position += 1 }
                    guard peek == ">" else { throw failure("missing > in group name") }
                    position += 1
                } else {
                    throw failure("unsupported group or flags")
                }
            }
            let inner = try alternation()
            guard peek == ")" else { throw failure("missing )") }
            position += 1
            return inner
        case ".": return .scalar(.anyButNewline)
        case "^": return .textStart
        case "$": return .textEnd
        case "[": return .scalar(try characterClass())
        case "\\": return try escape(inClass: false)
        case "*", "+", "?": throw failure("missing argument to repetition operator")
        default: return .scalar(.single(scalar))
        }
    }

    private mutating func escape(inClass: Bool) throws(LinearTimeRegex.SyntaxError) -> Node {
        guard let scalar = peek else { throw failure("trailing \\") }
        position += 1
        let digits: [ClosedRange<UInt32>] = [48...57]
        let word: [ClosedRange<UInt32>] = [48...57, 65...90, 95...95, 97...122]
        let space: [ClosedRange<UInt32>] = [9...10, 12...13, 32...32]
        switch scalar {
        case "d": return .scalar(ScalarMatcher(ranges: digits))
        case "D": return .scalar(ScalarMatcher(ranges: digits, negated: true))
        case "w": return .scalar(ScalarMatcher(ranges: word))
        case "W": return .scalar(ScalarMatcher(ranges: word, negated: true))
        case "s": return .scalar(ScalarMatcher(ranges: space))
        case "S": return .scalar(ScalarMatcher(ranges: space, negated: true))
        case "t": return .scalar(.single("\t"))
        case "n": return .scalar(.single("\n"))
        case "r": return .scalar(.single("\r"))
        case "f": return .scalar(.single("\u{0C}"))
        case "v": return .scalar(.single("\u{0B}"))
        case "A" where !inClass: return .textStart
        case "z" where !inClass: return .textEnd
        default:
            // Punctuation stands for itself; letters and digits would be classes or
            // assertions RE2 has and this does not.
            guard scalar.isASCII, !scalar.properties.isAlphabetic, !("0"..."9").contains(scalar) else {
                throw failure("unsupported escape \\\(scalar)")
            }
            return .scalar(.single(scalar))
        }
    }

    private mutating func characterClass() throws(LinearTimeRegex.SyntaxError) -> ScalarMatcher {
        var matcher = ScalarMatcher(ranges: [])
        if peek == "^" {
            matcher.negated = true
            position += 1
        }
        var first = true
        while let scalar = peek, scalar != "]" || first {
            first = false
            let low: ScalarMatcher
            if scalar == "\\" {
                position += 1
                guard case .scalar(let escaped) = try escape(inClass: true) else { throw failure("bad escape in class") }
                low = escaped
            } else if scalar == "[" && position + 1 < pattern.count && pattern[position + 1] == ":" {
                throw failure("unsupported POSIX class")
            } else {
                position += 1
                low = .single(scalar)
            }
            // A range a-z; a "-" before "]" is literal.
            if peek == "-", position + 1 < pattern.count, pattern[position + 1] != "]",
               low.ranges.count == 1, !low.negated, low.ranges[0].count == 1 {
                position += 1
                var highScalar = pattern[position]
                position += 1
                if highScalar == "\\" {
                    guard case .scalar(let escaped) = try escape(inClass: true), escaped.ranges.count == 1,
                          escaped.ranges[0].count == 1, !escaped.negated else { throw failure("bad character class range") }
                    highScalar = Unicode.Scalar(escaped.ranges[0].lowerBound)!
                }
                guard low.ranges[0].lowerBound <= highScalar.value else { throw failure("bad character class range") }
                matcher.ranges.append(low.ranges[0].lowerBound...highScalar.value)
            } else if low.negated {
                // \D, \W, \S inside a class: their complement as ranges.
                matcher.ranges += complement(of: low.ranges)
            } else {
                matcher.ranges += low.ranges
            }
        }
        guard peek == "]" else { throw failure("missing ]") }
        position += 1
        return matcher
    }

    private func complement(of ranges: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var result: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if range.lowerBound > next { result.append(next...(range.lowerBound - 1)) }
            next = max(next, range.upperBound + 1)
        }
        if next <= 0x10FFFF { result.append(next...0x10FFFF) }
        return result
    }
}

// MARK: Compiler

private struct Compiler {
    var instructions: [Instruction] = []

    private mutating func append(_ instruction: Instruction) throws(LinearTimeRegex.SyntaxError) -> Int {
        guard instructions.count < LinearTimeRegex.maximumProgramSize else {
            throw LinearTimeRegex.SyntaxError(message: "pattern too large")
        }
        instructions.append(instruction)
        return instructions.count - 1
    }

    mutating func emit(_ node: Node) throws(LinearTimeRegex.SyntaxError) {
        switch node {
        case .empty: break
        case .scalar(let matcher): _ = try append(.scalar(matcher))
        case .textStart: _ = try append(.textStart)
        case .textEnd: _ = try append(.textEnd)
        case .concatenation(let items):
            for item in items { try emit(item) }
        case .alternation(let branches):
            // split L1, next; L1: branch; jump end; next: split ... ; last branch
            var jumps: [Int] = []
            for (index, branch) in branches.enumerated() {
                if index == branches.count - 1 {
                    try emit(branch)
                } else {
                    let split = try append(.split(0, 0))
                    try emit(branch)
                    jumps.append(try append(.jump(0)))
                    instructions[split] = .split(split + 1, instructions.count)
                }
            }
            for jump in jumps { instructions[jump] = .jump(instructions.count) }
        case .repetition(let inner, let minimum, let maximum):
            for _ in 0..<minimum { try emit(inner) }
            if let maximum {
                // Up to maximum - minimum more, each optional: split into it or past all.
                var splits: [Int] = []
                for _ in minimum..<maximum {
                    splits.append(try append(.split(0, 0)))
                    try emit(inner)
                }
                for split in splits { instructions[split] = .split(split + 1, instructions.count) }
            } else {
                // loop: split body, exit; body; jump loop
                let split = try append(.split(0, 0))
                try emit(inner)
                _ = try append(.jump(split))
                instructions[split] = .split(split + 1, instructions.count)
            }
        }
    }
}

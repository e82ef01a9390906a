// Regular expressions from clients (KIP-848 subscriptions, ListTransactions' id pattern),
// matched in time linear in the input: Kafka uses RE2/J for these because a backtracking
// engine (Swift's Regex included) can spin for ever on "(a+)+b", holding a reactor thread.
// RE2 syntax, with ASCII case folding and without Unicode classes (\p).

/// A pattern compiled to a Thompson NFA and run as a set of states per input character.
public struct LinearTimeRegex: Sendable {
    public struct SyntaxError: Error, Equatable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// RE2's bounds: {m,n} up to 1,000 and nesting 1,000 deep. Past them, or past the
    /// program and compile-work budgets (which count class ranges and every repetition
    /// copy, even of an empty body), a pattern is refused rather than compiled for ever.
    static let maximumRepeat = 1_000
    static let maximumNesting = 1_000
    static let maximumProgramSize = 20_000
    static let maximumCompileWork = 200_000

    private let program: [Instruction]

    public init(_ pattern: String) throws(SyntaxError) {
        var parser = Parser(Array(pattern.unicodeScalars))
        let tree = try parser.parse()
        var compiler = Compiler()
        try compiler.emit(tree)
        _ = try compiler.append(.match)
        program = compiler.instructions
    }

    /// Whether the whole of `text` matches (Java's Matcher.matches, as Kafka uses).
    public func wholeMatch(_ text: String) -> Bool {
        var budget = Int.max
        return wholeMatch(text, budget: &budget)!
    }

    /// `wholeMatch` within a budget of steps (a state visited at one position), spent from
    /// `budget`; nil when it runs out first. The work is at most the program size times the
    /// text length, which can still be large: callers matching against many texts cap it.
    public func wholeMatch(_ text: String, budget: inout Int) -> Bool? {
        let input = Array(text.unicodeScalars)
        var current = StateSet(capacity: program.count)
        var next = StateSet(capacity: program.count)
        addState(0, at: 0, in: input, to: &current)
        for (position, scalar) in input.enumerated() {
            budget -= current.states.count
            if budget < 0 { return nil }
            next.clear()
            for state in current.states {
                if case .scalar(let matcher) = program[state], matcher.matches(scalar) {
                    addState(state + 1, at: position + 1, in: input, to: &next)
                }
            }
            swap(&current, &next)
            if current.states.isEmpty { return false }
        }
        return current.states.contains { if case .match = program[$0] { true } else { false } }
    }

    /// Follows jumps, splits and assertions (which consume nothing) from `state`.
    private func addState(_ state: Int, at position: Int, in input: [Unicode.Scalar], to set: inout StateSet) {
        var pending = [state]
        while let state = pending.popLast() {
            guard set.insert(state) else { continue }
            switch program[state] {
            case .jump(let target): pending.append(target)
            case .split(let first, let second):
                pending.append(second)
                pending.append(first)
            case .assert(let assertion): if assertion.holds(at: position, in: input) { pending.append(state + 1) }
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
    case assert(Assertion)
    case match
}

/// Zero-width tests: ^ $ \A \z (text or, with (?m), line) and \b \B.
private enum Assertion: Sendable {
    case textStart, textEnd, lineStart, lineEnd, wordBoundary, notWordBoundary

    func holds(at position: Int, in input: [Unicode.Scalar]) -> Bool {
        switch self {
        case .textStart: return position == 0
        case .textEnd: return position == input.count
        case .lineStart: return position == 0 || input[position - 1] == "\n"
        case .lineEnd: return position == input.count || input[position] == "\n"
        case .wordBoundary, .notWordBoundary:
            let before = position > 0 && ScalarMatcher.word.matches(input[position - 1])
            let after = position < input.count && ScalarMatcher.word.matches(input[position])
            return (before != after) == (self == .wordBoundary)
        }
    }
}

/// One position's test: a set of scalar ranges, sorted and merged (binary search), maybe negated.
private struct ScalarMatcher: Sendable {
    private(set) var ranges: [ClosedRange<UInt32>]
    var negated: Bool

    init(ranges: [ClosedRange<UInt32>], negated: Bool = false) {
        var merged: [ClosedRange<UInt32>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, range.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                merged.append(range)
            }
        }
        self.ranges = merged
        self.negated = negated
    }

    static let digit = ScalarMatcher(ranges: [48...57])
    static let word = ScalarMatcher(ranges: [48...57, 65...90, 95...95, 97...122])
    static let space = ScalarMatcher(ranges: [9...10, 12...13, 32...32])
    static func single(_ scalar: Unicode.Scalar) -> ScalarMatcher { ScalarMatcher(ranges: [scalar.value...scalar.value]) }
    static func any(dotAll: Bool) -> ScalarMatcher { ScalarMatcher(ranges: dotAll ? [] : [10...10], negated: true) }

    var isSingleScalar: Bool { !negated && ranges.count == 1 && ranges[0].count == 1 }

    func matches(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        var low = 0
        var high = ranges.count
        while low < high {
            let middle = (low + high) / 2
            if ranges[middle].upperBound < value { low = middle + 1 } else { high = middle }
        }
        return (low < ranges.count && ranges[low].contains(value)) != negated
    }

    /// The same set with ASCII letters in both cases, for (?i).
    func foldingCase() -> ScalarMatcher {
        var extra: [ClosedRange<UInt32>] = []
        for range in ranges {
            for (from, to) in [(UInt32(65), UInt32(97)), (UInt32(97), UInt32(65))] {
                let low = max(range.lowerBound, from)
                let high = min(range.upperBound, from + 25)
                if low <= high { extra.append(low - from + to...high - from + to) }
            }
        }
        return ScalarMatcher(ranges: ranges + extra, negated: negated)
    }

    /// The complement as ranges (for \D, \W, \S and [:^class:] inside a class).
    func complementRanges() -> [ClosedRange<UInt32>] {
        var result: [ClosedRange<UInt32>] = []
        var next: UInt32 = 0
        for range in ranges {
            if range.lowerBound > next { result.append(next...(range.lowerBound - 1)) }
            next = range.upperBound &+ 1
        }
        if next <= 0x10FFFF { result.append(next...0x10FFFF) }
        return result
    }

    /// POSIX classes inside brackets, as RE2 reads them.
    static func posix(_ name: String) -> ScalarMatcher? {
        let table: [String: [ClosedRange<UInt32>]] = [
            "alnum": [48...57, 65...90, 97...122], "alpha": [65...90, 97...122], "ascii": [0...127],
            "blank": [9...9, 32...32], "cntrl": [0...31, 127...127], "digit": [48...57], "graph": [33...126],
            "lower": [97...122], "print": [32...126], "punct": [33...47, 58...64, 91...96, 123...126],
            "space": [9...13, 32...32], "upper": [65...90], "word": [48...57, 65...90, 95...95, 97...122],
            "xdigit": [48...57, 65...70, 97...102],
        ]
        return table[name].map { ScalarMatcher(ranges: $0) }
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
    case assert(Assertion)
    case concatenation([Node])
    case alternation([Node])
    case repetition(Node, minimum: Int, maximum: Int?)
}

/// (?i) case-insensitive, (?m) ^ and $ at lines, (?s) . matches \n; (?U) only changes
/// which match is preferred, not whether the whole text matches.
private struct Flags {
    var caseInsensitive = false
    var multiLine = false
    var dotAll = false
}

private struct Parser {
    let pattern: [Unicode.Scalar]
    var position = 0
    var flags = Flags()
    var depth = 0

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
            // \Q...\E (what Java's Pattern.quote writes): literal text, and as in RE2 a
            // quantifier after it applies to its last character only.
            var item: Node
            var matchesNothing = false
            if let quoted = quotedLiterals() {
                if let last = quoted.last {
                    items += quoted.dropLast()
                    item = last
                } else {
                    matchesNothing = true
                    item = .empty
                }
            } else if let parsed = try atom() {
                item = parsed
            } else {
                matchesNothing = true  // a flag group
                item = .empty
            }
            if matchesNothing {
                // RE2 reads a quantifier after an empty \Q\E or a flag group as applying to
                // what came before ("x\Q\E*" is "x*"); with nothing before, the next atom
                // reports the missing argument (or reads "{" as a literal).
                guard let quantifier = peek, ["*", "+", "?", "{"].contains(quantifier), let previous = items.popLast() else { continue }
                item = previous
            }
            var quantified = false
            while let quantifier = peek, ["*", "+", "?", "{"].contains(quantifier) {
                let start = position
                guard let (minimum, maximum) = try repetitionBounds() else { break }
                // "a**" is refused as RE2 does; "(a*)*" is fine.
                if quantified {
                    position = start
                    throw failure("bad repetition operator")
                }
                quantified = true
                item = .repetition(item, minimum: minimum, maximum: maximum)
                if peek == "?" { position += 1 }  // lazy: same answer for a whole match
            }
            items.append(item)
        }
        return items.isEmpty ? .empty : items.count == 1 ? items[0] : .concatenation(items)
    }

    /// The literals of a \Q...\E at the current position (to \E or the end of the pattern);
    /// nil, and nothing consumed, anywhere else.
    private mutating func quotedLiterals() -> [Node]? {
        guard position + 1 < pattern.count, pattern[position] == "\\", pattern[position + 1] == "Q" else { return nil }
        position += 2
        var literals: [Node] = []
        while position < pattern.count {
            if pattern[position] == "\\", position + 1 < pattern.count, pattern[position + 1] == "E" {
                position += 2
                break
            }
            literals.append(literal(pattern[position]))
            position += 1
        }
        return literals
    }

    /// *, +, ? or {m}, {m,}, {m,n}; nil for a "{" that is a literal (RE2 reads it so).
    private mutating func repetitionBounds() throws(LinearTimeRegex.SyntaxError) -> (Int, Int?)? {
        let start = position
        switch pattern[position] {
        case "*":
            position += 1
            return (0, nil)
        case "+":
            position += 1
            return (1, nil)
        case "?":
            position += 1
            return (0, 1)
        default: break
        }
        position += 1
        guard let minimum = number() else {
            position = start
            return nil
        }
        var maximum: Int? = minimum
        if peek == "," {
            position += 1
            maximum = number()
        }
        guard peek == "}" else {
            position = start
            return nil
        }
        position += 1
        if minimum > LinearTimeRegex.maximumRepeat || (maximum ?? 0) > LinearTimeRegex.maximumRepeat {
            throw failure("bad repetition operator (more than \(LinearTimeRegex.maximumRepeat))")
        }
        if let maximum, maximum < minimum { throw failure("bad repetition operator") }
        return (minimum, maximum)
    }

    private mutating func number() -> Int? {
        var value: Int?
        while let scalar = peek, ("0"..."9").contains(scalar) {
            value = min((value ?? 0) * 10 + Int(scalar.value - 48), Int(Int32.max))
            position += 1
        }
        return value
    }

    /// One atom; nil for a flag group such as (?i), which only changes what follows.
    private mutating func atom() throws(LinearTimeRegex.SyntaxError) -> Node? {
        let scalar = pattern[position]
        switch scalar {
        case "(":
            return try group()
        case "{":
            // "{2}" with nothing before it is RE2's missing argument; "{" alone a literal.
            if try repetitionBounds() != nil { throw failure("missing argument to repetition operator") }
            position += 1
            return literal("{")
        case "*", "+", "?":
            throw failure("missing argument to repetition operator")
        default:
            break
        }
        position += 1
        switch scalar {
        case ".": return .scalar(.any(dotAll: flags.dotAll))
        case "^": return .assert(flags.multiLine ? .lineStart : .textStart)
        case "$": return .assert(flags.multiLine ? .lineEnd : .textEnd)
        case "[": return .scalar(try characterClass())
        case "\\": return try escape(inClass: false)
        default: return literal(scalar)
        }
    }

    private func literal(_ scalar: Unicode.Scalar) -> Node {
        .scalar(flags.caseInsensitive ? ScalarMatcher.single(scalar).foldingCase() : .single(scalar))
    }

    private mutating func group() throws(LinearTimeRegex.SyntaxError) -> Node? {
        position += 1  // (
        depth += 1
        defer { depth -= 1 }
        if depth > LinearTimeRegex.maximumNesting { throw failure("expression nests too deeply") }
        let outer = flags
        if peek == "?" {
            position += 1
            switch peek {
            case ":":
                position += 1
            case "P", "<":
                // Named groups (?P<name>...) and (?<name>...): the name is word characters.
                if peek == "P" { position += 1 }
                guard peek == "<" else { throw failure("invalid named group") }
                position += 1
                let nameStart = position
                while let next = peek, ScalarMatcher.word.matches(next) { position += 1 }
                guard position > nameStart, peek == ">" else { throw failure("invalid named group") }
                position += 1
            default:
                // Flags: (?flags) for the rest of the group, (?flags:re) for re only.
                var negate = false
                var changed = false
                while let next = peek, next != ")" && next != ":" {
                    switch next {
                    case "-" where !negate: negate = true
                    case "i": flags.caseInsensitive = !negate
                    case "m": flags.multiLine = !negate
                    case "s": flags.dotAll = !negate
                    case "U": break
                    default: throw failure("invalid or unsupported group or flags")
                    }
                    changed = changed || next != "-"
                    position += 1
                }
                guard changed, let end = peek else { throw failure("invalid or unsupported group or flags") }
                position += 1
                if end == ")" { return nil }  // applies to the rest of the enclosing group
            }
        }
        let inner = try alternation()
        guard peek == ")" else { throw failure("missing )") }
        position += 1
        flags = outer
        return inner
    }

    private mutating func escape(inClass: Bool) throws(LinearTimeRegex.SyntaxError) -> Node {
        guard let scalar = peek else { throw failure("trailing \\") }
        position += 1
        func set(_ matcher: ScalarMatcher, negated: Bool = false) -> Node {
            .scalar(ScalarMatcher(ranges: matcher.ranges, negated: negated))
        }
        // Inside a class the class folds case once, at its end.
        func literal(_ scalar: Unicode.Scalar) -> Node { inClass ? .scalar(.single(scalar)) : self.literal(scalar) }
        switch scalar {
        case "d": return set(.digit)
        case "D": return set(.digit, negated: true)
        case "w": return set(.word)
        case "W": return set(.word, negated: true)
        case "s": return set(.space)
        case "S": return set(.space, negated: true)
        case "t": return literal("\t")
        case "n": return literal("\n")
        case "r": return literal("\r")
        case "f": return literal("\u{0C}")
        case "v": return literal("\u{0B}")
        case "a": return literal("\u{07}")
        case "x":
            return literal(try hexadecimalScalar())
        case "A" where !inClass: return .assert(.textStart)
        case "z" where !inClass: return .assert(.textEnd)
        case "b" where !inClass: return .assert(.wordBoundary)
        case "B" where !inClass: return .assert(.notWordBoundary)
        default:
            // Punctuation stands for itself; other letters and digits would be RE2 features
            // this does not have (\p classes, back references, which RE2 refuses).
            guard scalar.isASCII, !scalar.properties.isAlphabetic, !("0"..."9").contains(scalar) else {
                throw failure("unsupported escape \\\(scalar)")
            }
            return literal(scalar)
        }
    }

    /// \xHH or \x{H...}.
    private mutating func hexadecimalScalar() throws(LinearTimeRegex.SyntaxError) -> Unicode.Scalar {
        var digits = ""
        if peek == "{" {
            position += 1
            while let next = peek, next != "}" {
                digits.unicodeScalars.append(next)
                position += 1
            }
            guard peek == "}" else { throw failure("invalid escape \\x") }
            position += 1
        } else {
            for _ in 0..<2 {
                guard let next = peek else { throw failure("invalid escape \\x") }
                digits.unicodeScalars.append(next)
                position += 1
            }
        }
        guard !digits.isEmpty, digits.count <= 8, let value = UInt32(digits, radix: 16), let scalar = Unicode.Scalar(value) else {
            throw failure("invalid escape \\x")
        }
        return scalar
    }

    private mutating func characterClass() throws(LinearTimeRegex.SyntaxError) -> ScalarMatcher {
        var ranges: [ClosedRange<UInt32>] = []
        var negated = false
        if peek == "^" {
            negated = true
            position += 1
        }
        var first = true
        while let scalar = peek, scalar != "]" || first {
            first = false
            let low: ScalarMatcher
            if scalar == "[" && position + 1 < pattern.count && pattern[position + 1] == ":" {
                ranges += try posixClass()
                continue
            } else if scalar == "\\" {
                position += 1
                guard case .scalar(let escaped) = try escape(inClass: true) else { throw failure("bad escape in class") }
                low = escaped
            } else {
                position += 1
                low = .single(scalar)
            }
            // A range a-z; a "-" before "]" is literal.
            if peek == "-", position + 1 < pattern.count, pattern[position + 1] != "]", low.isSingleScalar {
                position += 1
                var high = ScalarMatcher.single(pattern[position])
                position += 1
                if high.ranges[0].lowerBound == 92 {  // a backslash: an escaped bound
                    guard case .scalar(let escaped) = try escape(inClass: true), escaped.isSingleScalar else {
                        throw failure("bad character class range")
                    }
                    high = escaped
                }
                guard low.ranges[0].lowerBound <= high.ranges[0].lowerBound else { throw failure("bad character class range") }
                ranges.append(low.ranges[0].lowerBound...high.ranges[0].lowerBound)
            } else {
                // \D, \W, \S inside a class: their complement as ranges.
                ranges += low.negated ? low.complementRanges() : low.ranges
            }
        }
        guard peek == "]" else { throw failure("missing ]") }
        position += 1
        let matcher = ScalarMatcher(ranges: ranges, negated: negated)
        return flags.caseInsensitive ? matcher.foldingCase() : matcher
    }

    /// [:name:] or [:^name:] inside a class.
    private mutating func posixClass() throws(LinearTimeRegex.SyntaxError) -> [ClosedRange<UInt32>] {
        position += 2  // [:
        var negated = false
        if peek == "^" {
            negated = true
            position += 1
        }
        var name = ""
        while let next = peek, next != ":" {
            name.unicodeScalars.append(next)
            position += 1
        }
        guard position + 1 < pattern.count, pattern[position + 1] == "]", let matcher = ScalarMatcher.posix(name) else {
            throw failure("invalid character class range")
        }
        position += 2  // :]
        return negated ? matcher.complementRanges() : matcher.ranges
    }
}

// MARK: Compiler

private struct Compiler {
    var instructions: [Instruction] = []
    private var work = 0

    private func tooLarge() -> LinearTimeRegex.SyntaxError {
        LinearTimeRegex.SyntaxError(message: "pattern too large")
    }

    mutating func append(_ instruction: Instruction) throws(LinearTimeRegex.SyntaxError) -> Int {
        guard instructions.count < LinearTimeRegex.maximumProgramSize else { throw tooLarge() }
        instructions.append(instruction)
        return instructions.count - 1
    }

    mutating func emit(_ node: Node) throws(LinearTimeRegex.SyntaxError) {
        // Every call counts, so "((){1000}){1000}" ends here instead of compiling for ever.
        work += 1
        guard work <= LinearTimeRegex.maximumCompileWork else { throw tooLarge() }
        switch node {
        case .empty: break
        case .scalar(let matcher):
            work += matcher.ranges.count
            guard work <= LinearTimeRegex.maximumCompileWork else { throw tooLarge() }
            _ = try append(.scalar(matcher))
        case .assert(let assertion): _ = try append(.assert(assertion))
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

// ssl.principal.mapping.rules: how a client certificate's distinguished name (RFC 2253, as
// "CN=app,OU=Services,O=Example") becomes a principal's name, with Kafka's rule language:
// `RULE:pattern/replacement/[LU]` tried in order against the whole name, `DEFAULT` for the name
// unchanged; a name no rule matches is refused. The rules come from the operator, not clients.

public struct PrincipalMappingRules: Sendable {
    enum Rule: @unchecked Sendable {  // a Regex is immutable once compiled
        case unchanged
        case rewrite(pattern: Regex<AnyRegexOutput>, replacement: [ReplacementPiece], letterCase: LetterCase?)
    }

    enum ReplacementPiece: Equatable {
        case literal(String)
        case group(Int)
    }

    enum LetterCase { case lower, upper }

    let rules: [Rule]

    /// Kafka's default, `DEFAULT`: the distinguished name itself.
    public static let standard = PrincipalMappingRules(rules: [.unchanged])

    private init(rules: [Rule]) { self.rules = rules }

    /// The rules in `text`, or why they are not rules (Kafka's "Invalid rule" messages).
    public init(_ text: String) throws(PrincipalMappingError) {
        var rules: [Rule] = []
        var rest = Substring(text)
        while true {
            rest = rest.drop(while: \.isWhitespace)
            if rest.isEmpty { break }
            let start = rest
            if rest.hasPrefix("DEFAULT") {
                rest = rest.dropFirst("DEFAULT".count)
                rules.append(.unchanged)
            } else if rest.hasPrefix("RULE:") {
                rest = rest.dropFirst("RULE:".count)
                guard let pattern = Self.field(&rest), let replacement = Self.field(&rest) else {
                    throw PrincipalMappingError("Invalid rule: \(Self.ruleText(start))")
                }
                var letterCase: LetterCase?
                if rest.first == "L" || rest.first == "U" {
                    letterCase = rest.first == "L" ? .lower : .upper
                    rest = rest.dropFirst()
                }
                let regex: Regex<AnyRegexOutput>
                do {
                    regex = try Regex(pattern)
                } catch {
                    throw PrincipalMappingError("Invalid rule: \(Self.ruleText(start)): the pattern does not compile: \(error)")
                }
                rules.append(.rewrite(pattern: regex, replacement: Self.pieces(of: replacement), letterCase: letterCase))
            } else {
                throw PrincipalMappingError("Invalid rule: \(Self.ruleText(start))")
            }
            rest = rest.drop(while: \.isWhitespace)
            if rest.isEmpty { break }
            guard rest.first == "," else {
                throw PrincipalMappingError("Invalid rule: `\(Self.ruleText(start))`, unmatched substring: `\(Self.ruleText(rest))`")
            }
            rest = rest.dropFirst()
        }
        self.rules = rules
    }

    /// The principal's name for `distinguishedName`, from the first rule that applies; nil
    /// when none does (Kafka refuses the connection).
    public func principalName(for distinguishedName: String) -> String? {
        for rule in rules {
            switch rule {
            case .unchanged:
                return distinguishedName
            case .rewrite(let pattern, let replacement, let letterCase):
                guard let match = try? pattern.wholeMatch(in: distinguishedName) else { continue }
                var name = ""
                for piece in replacement {
                    switch piece {
                    case .literal(let text): name += text
                    case .group(let index):
                        if index < match.output.count, let captured = match.output[index].substring { name += captured }
                    }
                }
                switch letterCase {
                case .lower: return name.lowercased()
                case .upper: return name.uppercased()
                case nil: return name
                }
            }
        }
        return nil
    }

    /// The text up to the next unescaped `/` (a backslash escapes the character after it and
    /// stays, for the regex or the replacement to read), with the `/` consumed.
    private static func field(_ rest: inout Substring) -> String? {
        var field = ""
        var escaped = false
        while let character = rest.popFirst() {
            if escaped {
                field.append(character)
                escaped = false
            } else if character == "\\" {
                field.append(character)
                escaped = true
            } else if character == "/" {
                return field
            } else {
                field.append(character)
            }
        }
        return nil
    }

    /// A replacement as Java's Matcher reads one: `$n` is group n, `\x` is x.
    static func pieces(of replacement: String) -> [ReplacementPiece] {
        var pieces: [ReplacementPiece] = []
        var literal = ""
        var characters = Substring(replacement)
        while let character = characters.popFirst() {
            if character == "\\", let next = characters.popFirst() {
                literal.append(next)
            } else if character == "$", let digit = characters.first?.wholeNumberValue {
                characters.removeFirst()
                if !literal.isEmpty { pieces.append(.literal(literal)) }
                literal = ""
                pieces.append(.group(digit))
            } else {
                literal.append(character)
            }
        }
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        return pieces
    }

    /// A rule as the message quotes it: up to the next comma.
    private static func ruleText(_ text: Substring) -> String {
        let rule = text.prefix { $0 != "," }
        return String(rule.reversed().drop(while: \.isWhitespace).reversed())
    }
}

public struct PrincipalMappingError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
    init(_ message: String) { self.message = message }
}

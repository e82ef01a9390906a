// Kafka's PascalCase schema names turned into Swift identifiers.

enum Naming {
    private static let keywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import",
        "init", "inout", "internal", "let", "open", "operator", "private", "protocol", "public",
        "rethrows", "static", "struct", "subscript", "typealias", "var", "break", "case",
        "continue", "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in",
        "repeat", "return", "switch", "where", "while", "as", "catch", "false", "is", "nil",
        "super", "self", "Self", "throw", "throws", "true", "try", "Type", "Protocol", "any",
    ]

    /// `ThrottleTimeMs` -> `throttleTimeMs`, `ISRNodes` -> `isrNodes`, `Protocol` -> `` `protocol` ``.
    static func property(_ name: String) -> String {
        let characters = Array(name)
        var leadingUpper = 0
        while leadingUpper < characters.count && characters[leadingUpper].isUppercase { leadingUpper += 1 }
        var lowered: String
        if leadingUpper <= 1 || leadingUpper == characters.count {
            lowered = String(characters.prefix(max(leadingUpper, 1))).lowercased() + String(characters.dropFirst(max(leadingUpper, 1)))
        } else {
            // "ISRNodes": the last capital starts the next word.
            lowered = String(characters.prefix(leadingUpper - 1)).lowercased() + String(characters.dropFirst(leadingUpper - 1))
        }
        return keywords.contains(lowered) ? "`\(lowered)`" : lowered
    }

    /// A property name usable inside string literals (no backticks).
    static func plain(_ name: String) -> String {
        String(property(name).filter { $0 != "`" })
    }

    /// `Produce` -> `produce`, `DescribeACLs` style names likewise.
    static func enumCase(_ name: String) -> String { property(name) }
}

// Whitespace trimming without full Foundation (FoundationEssentials keeps
// trimmingCharacters internal, and full Foundation costs ICU's resident memory).

extension StringProtocol {
    /// Without leading and trailing spaces, tabs, carriage returns and newlines.
    public var trimmed: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[first...last])
    }
}

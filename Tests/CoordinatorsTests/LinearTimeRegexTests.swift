// The RE2-syntax matcher for client patterns: whole-string semantics, the syntax RE2 reads,
// agreement with Swift's Regex on the shared subset, and linear time where backtracking
// engines never finish.

import Testing

@testable import Coordinators

@Suite struct LinearTimeRegexTests {
    func matches(_ pattern: String, _ text: String) throws -> Bool {
        try LinearTimeRegex(pattern).wholeMatch(text)
    }

    @Test func matchesTheWholeName() throws {
        #expect(try matches("orders-.*", "orders-eu"))
        #expect(try !matches("orders-.*", "old-orders-eu"))
        #expect(try matches("^(orders|payments)-v[0-9]+$", "payments-v12"))
        #expect(try !matches("(orders|payments)-v[0-9]+", "payments-v"))
        #expect(try matches("", ""))
        #expect(try !matches("", "a"))
    }

    @Test func readsRE2Syntax() throws {
        #expect(try matches("\\d{2,3}", "123") && !matches("\\d{2,3}", "1234") && !matches("\\d{2,3}", "1"))
        #expect(try matches("a{3}", "aaa") && !matches("a{3}", "aa"))
        #expect(try matches("a{2,}", "aaaaa") && !matches("a{2,}", "a"))
        #expect(try matches("x{", "x{") && matches("x{,2}", "x{,2}"))  // not a repetition: literal
        #expect(try matches("[a-c]+\\.[^a-c]", "abc.z") && !matches("[a-c]+\\.[^a-c]", "abc.b"))
        #expect(try matches("[]a]+", "]a]") && matches("[a-]+", "a-a") && matches("[\\d_]+", "1_2"))
        #expect(try matches("[\\W]", "-") && !matches("[\\W]", "a"))
        #expect(try matches("(?:ab)+", "abab") && matches("(?P<name>a)b", "ab") && matches("(?<name>a)b", "ab"))
        #expect(try matches("a+?b", "aab") && matches("\\w+\\s\\S", "topic x"))
        #expect(try matches("\\Aab\\z", "ab") && matches("a|", "") && matches("(a*)*", "aaa"))
        #expect(try !matches(".", "\n"))
        #expect(try matches("\\x41\\x{42}", "AB"))
    }

    /// \Q...\E, as Java's Pattern.quote writes it: literal text; a quantifier after it
    /// applies to its last character, as in RE2; an unclosed quote runs to the end.
    @Test func quotedTextIsLiteral() throws {
        #expect(try matches("\\Qorders.v1\\E.*", "orders.v1-eu") && !matches("\\Qorders.v1\\E.*", "ordersXv1-eu"))
        #expect(try matches("\\Qa+(b\\E", "a+(b") && !matches("\\Qa+(b\\E", "aab"))
        #expect(try matches("\\Qab\\E*", "a") && matches("\\Qab\\E*", "abbb") && !matches("\\Qab\\E*", "abab"))
        #expect(try matches("x\\Q\\Ey", "xy") && matches("\\Q\\E", "") && matches("a|\\Q|\\E", "|"))
        #expect(try matches("\\Q[a]\\E|b", "[a]") && matches("\\Q[a]\\E|b", "b"))
        #expect(try matches("(?i)\\QAb\\E", "aB") && matches("\\Qopen(", "open("))
        // Nothing to match, so a quantifier after it repeats what came before, as in RE2.
        #expect(try matches("x\\Q\\E*", "xxx") && matches("x\\Q\\E*", "") && matches("x*\\Q\\E*", "xx"))
        #expect(try matches("a(?i)*", "aaa") && matches("x\\Q\\E{", "x{"))
        for pattern in ["\\Q\\E*", "(?i)*", "[\\Q]"] {
            #expect(throws: LinearTimeRegex.SyntaxError.self, "\(pattern)") { try LinearTimeRegex(pattern) }
        }
    }

    @Test func flagsWordBoundariesAndPosixClasses() throws {
        #expect(try matches("(?i)orders-[a-c]+", "ORDERS-AbC") && !matches("orders", "ORDERS"))
        #expect(try matches("(?i:ab)c", "ABc") && !matches("(?i:ab)c", "ABC"))
        #expect(try matches("a(?i)b|c", "aB") && matches("a(?i)b|c", "C"))  // to the end of the group
        #expect(try matches("(?s).", "\n") && matches("(?m)a$\\n^b", "a\nb"))
        #expect(try matches(".*\\bv2\\b.*", "orders.v2.eu") && !matches(".*\\bv2\\b.*", "ordersv2"))
        #expect(try matches("[[:alpha:]_]+[[:digit:]]", "abc_1") && matches("[[:^digit:]]+", "ab") && !matches("[[:^digit:]]+", "a1"))
    }

    @Test(arguments: [
        "(", "a)", "a**", "*a", "{2}", "[a", "x{1001}", "x{3,2}", "(?=a)", "(?<=a)b>c)", "(?P<>a)", "(?x)a",
        "\\1", "\\pL", "[[:nope:]]", "[z-a]", "a\\",
    ])
    func refusesWhatItCannotRead(pattern: String) {
        #expect(throws: LinearTimeRegex.SyntaxError.self) { try LinearTimeRegex(pattern) }
    }

    @Test func hostilePatternsAreRefusedNotCompiledForEver() {
        // Nested repetitions of nothing: 10^12 copies of an empty body.
        #expect(throws: LinearTimeRegex.SyntaxError.self) { try LinearTimeRegex("(?:(?:(?:(?:){1000}){1000}){1000}){1000}") }
        // Nesting deeper than RE2 allows.
        #expect(throws: LinearTimeRegex.SyntaxError.self) { try LinearTimeRegex(String(repeating: "(", count: 20_000)) }
        // A class of 30,000 separate ranges, repeated: too large to run once per character.
        let wide = "[" + (0..<30_000).map { String(UnicodeScalar(0x20000 + 2 * $0)!) }.joined() + "]"
        #expect(throws: LinearTimeRegex.SyntaxError.self) { try LinearTimeRegex("(?:\(wide)?){1000}") }
        // The same characters as one range are one range, and fine.
        #expect(throws: Never.self) { try LinearTimeRegex("[" + String(repeating: "!", count: 30_000) + "a]{1000}") }
    }

    @Test func catastrophicPatternsFinish() throws {
        // A backtracking engine takes 2^n steps here; this takes n.
        let text = String(repeating: "a", count: 5_000)
        #expect(try !matches("(a+)+b", text))
        #expect(try !matches("(a|aa)*b", text))
        #expect(try !matches("(a*)*b", text))
        #expect(try matches("(a|aa)*", text))
    }

    @Test func agreesWithSwiftRegexOnTheSharedSubset() throws {
        let patterns = ["a*b", "(ab|a)*b?", "[ab]-?1+", "a{1,2}b{0,1}", ".*-1", "(a|b)*a(a|b)", "[^a]*", "a?b?-?1?", "(a+|b+)-(1|a)"]
        let alphabet = ["a", "b", "-", "1"]
        var texts = [""]
        var frontier = [""]
        for _ in 0..<5 {
            frontier = frontier.flatMap { prefix in alphabet.map { prefix + $0 } }
            texts += frontier
        }
        for pattern in patterns {
            let ours = try LinearTimeRegex(pattern)
            let swift = try Regex(pattern)
            for text in texts {
                #expect(ours.wholeMatch(text) == ((try? swift.wholeMatch(in: text)) != nil), "\(pattern) on \(text)")
            }
        }
    }
}

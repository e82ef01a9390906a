// The RE2-syntax matcher for client patterns: whole-string semantics, the syntax RE2 reads,
// agreement with Swift's Regex on the shared subset, and linear time where backtracking
// engines never finish.

@testable import Coordinators
import Testing

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
    }

    @Test(arguments: ["(", "a)", "a**", "*a", "[a", "x{1001}", "x{3,2}", "(?=a)", "(?i)a", "\\b", "\\1", "[[:alpha:]]", "[z-a]", "a\\"])
    func refusesWhatItCannotRead(pattern: String) {
        #expect(throws: LinearTimeRegex.SyntaxError.self) { try LinearTimeRegex(pattern) }
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

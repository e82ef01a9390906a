// ssl.principal.mapping.rules as Kafka's documentation and SslPrincipalMapper describe them:
// rules tried in order against the whole distinguished name, $n groups, the L and U flags,
// DEFAULT, no match refused, and the rule texts Kafka refuses.

import Testing

@testable import Security

@Suite struct PrincipalMappingTests {
    let serviceUser = "CN=serviceuser,OU=ServiceUsers,O=Unknown,L=Unknown,ST=Unknown,C=Unknown"
    let adminUser = "CN=adminUser,OU=Admin,O=Unknown,L=Unknown,ST=Unknown,C=Unknown"

    @Test func rulesApplyInOrderWithDefaultLast() throws {
        let rules = try PrincipalMappingRules("RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT")
        #expect(rules.principalName(for: serviceUser) == "serviceuser")
        #expect(rules.principalName(for: adminUser) == adminUser)
    }

    @Test func groupsAndLetterCase() throws {
        let lower = try PrincipalMappingRules("RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L")
        #expect(lower.principalName(for: adminUser) == "adminuser@admin")
        let upper = try PrincipalMappingRules("RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/U")
        #expect(upper.principalName(for: adminUser) == "ADMINUSER@ADMIN")
        let documented = try PrincipalMappingRules("RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,DEFAULT")
        #expect(documented.principalName(for: "CN=Kafka.Client,O=Example") == "kafka.client")
    }

    @Test func aNameNoRuleMatchesIsRefused() throws {
        let rules = try PrincipalMappingRules("RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/")
        #expect(rules.principalName(for: adminUser) == nil)
        // The pattern must match the whole name, as Java's Matcher.matches().
        let partial = try PrincipalMappingRules("RULE:CN=([a-z]+)/$1/")
        #expect(partial.principalName(for: "CN=app,O=Example") == nil)
        #expect(partial.principalName(for: "CN=app") == "app")
        #expect(PrincipalMappingRules.standard.principalName(for: adminUser) == adminUser)
    }

    @Test func escapedSlashesAndLiteralDollars() throws {
        let rules = try PrincipalMappingRules(#"RULE:^CN=([^,]*)\/([^,]*)$/$1\/$2\$/"#)
        #expect(rules.principalName(for: "CN=team/app") == "team/app$")
        #expect(PrincipalMappingRules.pieces(of: #"user-$1\\x"#) == [.literal("user-"), .group(1), .literal(#"\x"#)])
    }

    @Test func rulesSpreadOverSpacesAndCommas() throws {
        let rules = try PrincipalMappingRules("  RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L ,\n DEFAULT ")
        #expect(rules.rules.count == 2)
        #expect(rules.principalName(for: serviceUser) == "serviceuser")
    }

    @Test func malformedRulesAreRefusedNamingThem() {
        func refusal(_ text: String) -> String? {
            do {
                _ = try PrincipalMappingRules(text)
                return nil
            } catch {
                return error.message
            }
        }
        #expect(refusal("RULE:^CN=(.*)$") == "Invalid rule: RULE:^CN=(.*)$")
        #expect(refusal("DEFAULT,SOMETHING") == "Invalid rule: SOMETHING")
        #expect(refusal("RULE:^CN=(.*)$/$1/X")?.hasPrefix("Invalid rule: `RULE:^CN=(.*)$/$1/X`, unmatched substring: `X`") == true)
        #expect(refusal("RULE:^CN=((.*$/$1/")?.contains("does not compile") == true)
    }
}

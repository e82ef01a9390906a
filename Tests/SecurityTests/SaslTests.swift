// The SASL mechanisms without a socket: SCRAM-SHA-256 against RFC 7677's example exchange on
// both sides, round trips of Swiftlet's client and server, PLAIN's rules and messages,
// OAUTHBEARER's unsecured tokens, and Base64 in both alphabets.

import Testing

@testable import Security

@Suite struct SaslTests {
    /// RFC 7677, section 3: user "user", password "pencil".
    @Test func scramSha256MatchesTheRfcExample() throws {
        let salt = try #require(Base64.decode("W22ZaJ0SNY7soEsUEjb6gQ=="))
        let credential = ScramCredential(
            mechanism: .sha256, saltedPassword: Crypto.pbkdf2(.sha256, password: Array("pencil".utf8), salt: salt, iterations: 4096),
            salt: salt, iterations: 4096)
        var exchange = ScramExchange(mechanism: .sha256) { $0 == "user" ? credential : nil }
        exchange.serverNonce = { "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" }
        let first = exchange.evaluate(Array("n,,n=user,r=rOprNGfwEbeRWgbNEkqO".utf8))
        #expect(
            first
                == .success(
                    .challenge(Array("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096".utf8))))
        let final = exchange.evaluate(
            Array("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=".utf8))
        #expect(final == .success(.success(reply: Array("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8), user: "user")))
    }

    /// Swiftlet's own client (what a broker signs in to another with) against RFC 7677's example.
    @Test func theScramClientMatchesTheRfcExample() {
        var client = SaslClient(mechanism: .scram(.sha256), user: "user", password: "pencil", nonce: "rOprNGfwEbeRWgbNEkqO")
        #expect(client.first() == Array("n,,n=user,r=rOprNGfwEbeRWgbNEkqO".utf8))
        let serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        #expect(
            client.next(Array(serverFirst.utf8))
                == .respond(
                    Array("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=".utf8)
                ))
        var impostor = client
        #expect(impostor.next(Array("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8)) == nil, "a server that does not know the key")
        #expect(client.next(Array("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8)) == .done)
    }

    @Test func theScramClientRefusesAServerNonceNotExtendingItsOwnAndIterationsOutOfRange() {
        for serverFirst in [
            "r=othernonce123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", "r=abc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            "r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1024", "r=abcdef,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=100000000", "garbage",
        ] {
            var client = SaslClient(mechanism: .scram(.sha256), user: "user", password: "pencil", nonce: "abc")
            _ = client.first()
            #expect(client.next(Array(serverFirst.utf8)) == nil, "\(serverFirst)")
        }
    }

    @Test func thePlainClientSendsOneToken() {
        var client = SaslClient(mechanism: .plain, user: "broker", password: "s3cret")
        let token = client.first()
        #expect(token == Array("\0broker\0s3cret".utf8))
        var exchange = PlainExchange { $0 == "broker" ? "s3cret" : nil }
        #expect(exchange.evaluate(token) == .success(.success(reply: [], user: "broker")))
        #expect(client.next([]) == .done)
    }

    @Test(arguments: ScramMechanism.allCases)
    func scramAcceptsTheRightPasswordOnly(mechanism: ScramMechanism) {
        let credential = ScramCredential(mechanism: mechanism, password: "s3cret")
        for (password, tampered, accepted) in [("s3cret", false, true), ("wrong", false, false), ("s3cret", true, false)] {
            var exchange = ScramExchange(mechanism: mechanism) { $0 == "al,ice" ? credential : nil }
            var client = SaslClient(mechanism: .scram(mechanism), user: "al,ice", password: password)
            guard case .success(.challenge(let serverFirst)) = exchange.evaluate(client.first()),
                case .respond(var final) = client.next(serverFirst)
            else {
                Issue.record("no server-first, or no client-final")
                return
            }
            if tampered {
                // One bit of the proof flipped.
                let text = String(decoding: final, as: UTF8.self)
                let proofStart = text.firstRange(of: ",p=")!
                var proof = Base64.decode(String(text[proofStart.upperBound...]))!
                proof[0] ^= 1
                final = Array((text[..<proofStart.upperBound] + Base64.encode(proof)).utf8)
            }
            let result = exchange.evaluate(final)
            if accepted {
                guard case .success(.success(let reply, let user)) = result else {
                    Issue.record("refused: \(result)")
                    return
                }
                #expect(user == "al,ice")
                #expect(client.next(reply) == .done, "the server proves it knows the credential")
            } else {
                #expect(
                    result
                        == .failure(
                            SaslFailure(
                                "Authentication failed during authentication due to invalid credentials with SASL mechanism \(mechanism.rawValue)"
                            )))
            }
        }
    }

    @Test func scramRefusesUnknownUsersMismatchedAuthorizationAndGarbage() {
        let credential = ScramCredential(mechanism: .sha256, password: "x")
        func first(_ message: String) -> Result<SaslStep, SaslFailure> {
            var exchange = ScramExchange(mechanism: .sha256) { $0 == "alice" ? credential : nil }
            return exchange.evaluate(Array(message.utf8))
        }
        let invalid = SaslFailure(
            "Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256")
        #expect(first("n,,n=bob,r=abc") == .failure(invalid))
        #expect(first("p=tls-unique,,n=alice,r=abc") == .failure(invalid))
        #expect(first("n,,n=al=41ice,r=abc") == .failure(invalid))
        #expect(first("n,,r=abc") == .failure(invalid))
        #expect(first("garbage") == .failure(invalid))
        #expect(
            first("n,a=bob,n=alice,r=abc")
                == .failure(SaslFailure("Authentication failed: Client requested an authorization id that is different from username")))
        guard case .success(.challenge) = first("n,a=alice,n=alice,r=abc") else {
            Issue.record("a matching authorization id is refused")
            return
        }
    }

    @Test func plainChecksPasswordsWithKafkasMessages() {
        func plain(_ token: String) -> Result<SaslStep, SaslFailure> {
            var exchange = PlainExchange { $0 == "alice" ? "alice-secret" : nil }
            return exchange.evaluate(Array(token.utf8))
        }
        #expect(plain("\0alice\0alice-secret") == .success(.success(reply: [], user: "alice")))
        #expect(plain("alice\0alice\0alice-secret") == .success(.success(reply: [], user: "alice")))
        #expect(plain("\0alice\0wrong") == .failure(SaslFailure("Authentication failed: Invalid username or password")))
        #expect(plain("\0bob\0alice-secret") == .failure(SaslFailure("Authentication failed: Invalid username or password")))
        #expect(plain("\0\0x") == .failure(SaslFailure("Authentication failed: username not specified")))
        #expect(plain("\0alice\0") == .failure(SaslFailure("Authentication failed: password not specified")))
        #expect(plain("alice-secret") == .failure(SaslFailure("Invalid SASL/PLAIN response: expected 3 tokens, got 1")))
        #expect(
            plain("bob\0alice\0alice-secret")
                == .failure(SaslFailure("Authentication failed: Client requested an authorization id that is different from username")))
    }

    @Test func oauthBearerAcceptsUnexpiredUnsecuredTokens() {
        func token(_ claims: String, header: String = #"{"alg":"none"}"#) -> String {
            func url(_ text: String) -> String {
                Base64.encode(Array(text.utf8)).replacingOccurrences("+", "-").replacingOccurrences("/", "_").replacingOccurrences("=", "")
            }
            return url(header) + "." + url(claims) + "."
        }
        func exchange(_ bearer: String, authorizationId: String = "") -> (Result<SaslStep, SaslFailure>, OAuthBearerExchange) {
            var exchange = OAuthBearerExchange(now: { 1_000 })
            let message = "n,\(authorizationId),\u{1}auth=Bearer \(bearer)\u{1}\u{1}"
            return (exchange.evaluate(Array(message.utf8)), exchange)
        }
        #expect(exchange(token(#"{"sub":"alice","exp":2000}"#)).0 == .success(.success(reply: [], user: "alice")))
        #expect(
            exchange(token(#"{"sub":"alice","exp":2000.5,"iat":900}"#), authorizationId: "a=alice").0
                == .success(.success(reply: [], user: "alice")))
        let invalid = SaslStep.challenge(Array(#"{"status":"invalid_token"}"#.utf8))
        for refused in [
            token(#"{"sub":"alice","exp":999}"#), token(#"{"exp":2000}"#), token(#"{"sub":"a","exp":2000}"#, header: #"{"alg":"HS256"}"#),
            "not-a-jwt",
        ] {
            var (first, state) = exchange(refused)
            #expect(first == .success(invalid), "\(refused)")
            // The client acknowledges the error with 0x01; the exchange then fails.
            #expect(
                state.evaluate([1])
                    == .failure(
                        SaslFailure(
                            "Authentication failed during authentication due to invalid credentials with SASL mechanism OAUTHBEARER")))
        }
    }

    @Test func base64RoundTripsInBothAlphabets() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(($0 * 37 + 11) % 256) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.encode(Array("pencil".utf8)) == "cGVuY2ls")
        #expect(Base64.decode("-_8") == [0xFB, 0xFF])
        #expect(Base64.decode("a") == nil && Base64.decode("ab=c") == nil && Base64.decode("a*") == nil)
    }
}

extension String {
    fileprivate func replacingOccurrences(_ target: Character, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

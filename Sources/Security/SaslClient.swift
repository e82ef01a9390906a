// The client's side of the SASL mechanisms a broker signs in to another broker with: PLAIN
// (RFC 4616) and SCRAM (RFC 5802, as Kafka speaks it: no channel binding). Sans IO: each
// step takes the server's message and returns the next one to send.

public struct SaslClient: Sendable {
    public enum Mechanism: Sendable, Equatable {
        case plain
        case scram(ScramMechanism)

        public init?(name: String) {
            if name == "PLAIN" {
                self = .plain
            } else if let scram = ScramMechanism(rawValue: name) {
                self = .scram(scram)
            } else {
                return nil
            }
        }

        public var name: String {
            switch self {
            case .plain: "PLAIN"
            case .scram(let scram): scram.rawValue
            }
        }
    }

    private enum Stage: Sendable {
        case initial
        /// The client-first message sent, without its GS2 header.
        case sentClientFirst(bare: String)
        /// What the server's final message must prove.
        case sentClientFinal(expectedServerSignature: [UInt8])
        case finished
    }

    public let mechanism: Mechanism
    let user: String
    let password: String
    let nonce: String
    private var stage = Stage.initial

    /// `nonce`: random unless a test fixes it.
    public init(mechanism: Mechanism, user: String, password: String, nonce: String = Base64.encode(Crypto.randomBytes(24))) {
        self.mechanism = mechanism
        self.user = user
        self.password = password
        self.nonce = nonce
    }

    /// The first message to send.
    public mutating func first() -> [UInt8] {
        switch mechanism {
        case .plain:
            stage = .finished
            return [0] + Array(user.utf8) + [0] + Array(password.utf8)
        case .scram:
            let bare = "n=\(Self.encodeName(user)),r=\(nonce)"
            stage = .sentClientFirst(bare: bare)
            return Array(("n,," + bare).utf8)
        }
    }

    public enum Step: Equatable, Sendable {
        /// Send this to the server.
        case respond([UInt8])
        /// Signed in: the server proved it knows the credential (SCRAM), or had nothing to say.
        case done
    }

    /// The next step after the server's `message`; nil when the server's message is not what
    /// the mechanism allows (a nonce not extending ours, too few iterations, a wrong signature).
    public mutating func next(_ message: [UInt8]) -> Step? {
        guard case .scram(let scram) = mechanism else { return message.isEmpty ? .done : nil }
        switch stage {
        case .sentClientFirst(let bare):
            guard let serverFirst = String(validating: message, as: UTF8.self) else { return nil }
            var fields: [Character: String] = [:]
            for field in serverFirst.split(separator: ",") where field.count >= 2 && field.dropFirst().first == "=" {
                fields[field.first!] = String(field.dropFirst(2))
            }
            guard let combined = fields["r"], combined.hasPrefix(nonce), combined.count > nonce.count,
                let salt = fields["s"].flatMap(Base64.decode), let iterations = fields["i"].flatMap({ Int($0) }),
                (ScramMechanism.minimumIterations...ScramMechanism.maximumIterations).contains(iterations)
            else { return nil }
            let salted = Crypto.pbkdf2(scram.hash, password: Array(password.utf8), salt: salt, iterations: iterations)
            let clientKey = Crypto.hmac(scram.hash, key: salted, Array("Client Key".utf8))
            let storedKey = Crypto.hash(scram.hash, clientKey)
            // c=biws: the GS2 header "n,," (no channel binding, no authorization id).
            let withoutProof = "c=biws,r=\(combined)"
            let authMessage = Array((bare + "," + serverFirst + "," + withoutProof).utf8)
            let proof = zip(clientKey, Crypto.hmac(scram.hash, key: storedKey, authMessage)).map { $0 ^ $1 }
            let serverKey = Crypto.hmac(scram.hash, key: salted, Array("Server Key".utf8))
            stage = .sentClientFinal(expectedServerSignature: Crypto.hmac(scram.hash, key: serverKey, authMessage))
            return .respond(Array((withoutProof + ",p=" + Base64.encode(proof)).utf8))
        case .sentClientFinal(let expected):
            stage = .finished
            guard let serverFinal = String(validating: message, as: UTF8.self), serverFinal.hasPrefix("v="),
                let signature = Base64.decode(String(serverFinal.dropFirst(2))), Crypto.constantTimeEqual(signature, expected)
            else { return nil }
            return .done
        case .initial, .finished:
            return nil
        }
    }

    /// A saslname: ',' is "=2C" and '=' is "=3D".
    static func encodeName(_ name: String) -> String {
        name.replacing("=", with: "=3D").replacing(",", with: "=2C")
    }
}

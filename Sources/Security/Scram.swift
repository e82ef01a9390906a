// SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) on the server side, as Kafka's
// ScramSaslServer runs them: client-first, server-first (the client's nonce extended, the
// salt, the iterations), client-final with its proof, server-final with the server's
// signature. Credentials keep the salt, iterations, StoredKey and ServerKey, never a password.

public enum ScramMechanism: String, Sendable, CaseIterable {
    case sha256 = "SCRAM-SHA-256"
    case sha512 = "SCRAM-SHA-512"

    public var hash: HashFunction { self == .sha256 ? .sha256 : .sha512 }

    /// Kafka's ScramMechanism type in AlterUserScramCredentials (KIP-554).
    public var kafkaType: Int8 { self == .sha256 ? 1 : 2 }

    public init?(kafkaType: Int8) {
        switch kafkaType {
        case 1: self = .sha256
        case 2: self = .sha512
        default: return nil
        }
    }

    /// Kafka's bounds on the iteration count of both mechanisms.
    public static let minimumIterations = 4_096
    public static let maximumIterations = 16_384
}

public struct ScramCredential: Sendable, Equatable, Codable {
    public var salt: [UInt8]
    public var iterations: Int
    public var storedKey: [UInt8]
    public var serverKey: [UInt8]

    public init(salt: [UInt8], iterations: Int, storedKey: [UInt8], serverKey: [UInt8]) {
        self.salt = salt
        self.iterations = iterations
        self.storedKey = storedKey
        self.serverKey = serverKey
    }

    /// From a salted password, as AlterUserScramCredentials carries it (the client salts).
    public init(mechanism: ScramMechanism, saltedPassword: [UInt8], salt: [UInt8], iterations: Int) {
        let clientKey = Crypto.hmac(mechanism.hash, key: saltedPassword, Array("Client Key".utf8))
        self.init(
            salt: salt, iterations: iterations, storedKey: Crypto.hash(mechanism.hash, clientKey),
            serverKey: Crypto.hmac(mechanism.hash, key: saltedPassword, Array("Server Key".utf8)))
    }

    /// From a password (users given at start), with a new random salt.
    public init(mechanism: ScramMechanism, password: String, iterations: Int = ScramMechanism.minimumIterations) {
        let salt = Crypto.randomBytes(32)
        let salted = Crypto.pbkdf2(mechanism.hash, password: Array(password.utf8), salt: salt, iterations: iterations)
        self.init(mechanism: mechanism, saltedPassword: salted, salt: salt, iterations: iterations)
    }
}

public struct ScramExchange: SaslExchange {
    private enum Stage {
        case awaitingClientFirst
        case awaitingClientFinal(user: String, credential: ScramCredential, nonce: String, gs2Header: String, authMessagePrefix: String)
        case finished
    }

    let mechanism: ScramMechanism
    let credential: (String) -> ScramCredential?
    private var stage = Stage.awaitingClientFirst
    /// Tests fix it; otherwise random.
    var serverNonce: () -> String = { Base64.encode(Crypto.randomBytes(24)) }

    public init(mechanism: ScramMechanism, credential: @escaping (String) -> ScramCredential?) {
        self.mechanism = mechanism
        self.credential = credential
    }

    public mutating func evaluate(_ token: [UInt8]) -> Result<SaslStep, SaslFailure> {
        let failure = SaslFailure.invalidCredentials(mechanism.rawValue)
        guard let message = String(validating: token, as: UTF8.self) else { return .failure(failure) }
        switch stage {
        case .awaitingClientFirst:
            return clientFirst(message)
        case .awaitingClientFinal(let user, let credential, let nonce, let gs2Header, let prefix):
            stage = .finished
            return clientFinal(message, user: user, credential: credential, nonce: nonce, gs2Header: gs2Header, prefix: prefix)
        case .finished:
            return .failure(failure)
        }
    }

    /// "n,[a=authzid],n=user,r=nonce[,extensions]".
    private mutating func clientFirst(_ message: String) -> Result<SaslStep, SaslFailure> {
        let failure = SaslFailure.invalidCredentials(mechanism.rawValue)
        let fields = message.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
        // Channel binding is not offered (no "p=").
        guard fields.count == 3, fields[0] == "n" || fields[0] == "y" else { return .failure(failure) }
        let authorizationId = fields[1].hasPrefix("a=") ? Self.decodeName(String(fields[1].dropFirst(2))) : nil
        guard fields[1].isEmpty || authorizationId != nil else { return .failure(failure) }
        let bare = fields[2]
        let attributes = Self.attributes(bare)
        guard let encodedUser = attributes["n"], let user = Self.decodeName(encodedUser), let clientNonce = attributes["r"],
            !clientNonce.isEmpty, attributes["m"] == nil
        else { return .failure(failure) }
        if let authorizationId, authorizationId != user {
            return .failure(SaslFailure("Authentication failed: Client requested an authorization id that is different from username"))
        }
        guard let credential = credential(user), credential.iterations >= ScramMechanism.minimumIterations else {
            return .failure(failure)
        }
        let nonce = clientNonce + serverNonce()
        let serverFirst = "r=\(nonce),s=\(Base64.encode(credential.salt)),i=\(credential.iterations)"
        stage = .awaitingClientFinal(
            user: user, credential: credential, nonce: nonce, gs2Header: fields[0] + "," + fields[1] + ",",
            authMessagePrefix: bare + "," + serverFirst)
        return .success(.challenge(Array(serverFirst.utf8)))
    }

    /// "c=base64(gs2 header),r=nonce[,extensions],p=proof".
    private func clientFinal(
        _ message: String, user: String, credential: ScramCredential, nonce: String, gs2Header: String, prefix: String
    ) -> Result<SaslStep, SaslFailure> {
        let failure = SaslFailure.invalidCredentials(mechanism.rawValue)
        guard let proofStart = message.firstRange(of: ",p=") else { return .failure(failure) }
        let withoutProof = String(message[..<proofStart.lowerBound])
        let attributes = Self.attributes(withoutProof)
        // Kafka checks that the nonce ends with the server-first one, not that it equals it:
        // librdkafka before 2.1 (Debian's kcat) sends the client nonce twice. The proof covers
        // the message as sent either way.
        guard attributes["r"]?.hasSuffix(nonce) == true, let binding = attributes["c"].flatMap(Base64.decode),
            binding == Array(gs2Header.utf8), let proof = Base64.decode(String(message[proofStart.upperBound...])),
            proof.count == mechanism.hash.outputSize
        else { return .failure(failure) }
        let authMessage = Array((prefix + "," + withoutProof).utf8)
        let clientSignature = Crypto.hmac(mechanism.hash, key: credential.storedKey, authMessage)
        let clientKey = zip(proof, clientSignature).map { $0 ^ $1 }
        guard Crypto.constantTimeEqual(Crypto.hash(mechanism.hash, clientKey), credential.storedKey) else { return .failure(failure) }
        let serverSignature = Crypto.hmac(mechanism.hash, key: credential.serverKey, authMessage)
        return .success(.success(reply: Array("v=\(Base64.encode(serverSignature))".utf8), user: user))
    }

    /// "k=v,k=v" as a dictionary (a value may hold '=').
    private static func attributes(_ text: String) -> [String: String] {
        var result: [String: String] = [:]
        for field in text.split(separator: ",") {
            guard let equals = field.firstIndex(of: "="), field.distance(from: field.startIndex, to: equals) == 1 else { continue }
            result[String(field[..<equals])] = String(field[field.index(after: equals)...])
        }
        return result
    }

    /// A saslname: "=2C" is ',' and "=3D" is '='; any other '=' makes it invalid.
    static func decodeName(_ text: String) -> String? {
        var result = ""
        var rest = Substring(text)
        while let equals = rest.firstIndex(of: "=") {
            result += rest[..<equals]
            let code = rest[equals...].prefix(3)
            switch code {
            case "=2C": result += ","
            case "=3D": result += "="
            default: return nil
            }
            rest = rest[rest.index(equals, offsetBy: 3)...]
        }
        return result + rest
    }
}

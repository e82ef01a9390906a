// A TLS listener's settings made into an OpenSSL context once, at start: the certificate
// chain and key (Kafka's PEM keystore), the CAs client certificates are checked against (its
// PEM truststore), whether clients must show one, the protocol versions and cipher suites.

import COpenSSL

public struct TLSSettings: Sendable, Equatable {
    public enum ClientAuthentication: String, Sendable {
        case none, requested, required
    }

    /// ssl.keystore.location: a PEM file with the private key and the certificate chain.
    public var keystoreLocation: String?
    /// ssl.keystore.certificate.chain and ssl.keystore.key: the same, inline.
    public var certificateChain: String?
    public var privateKey: String?
    /// ssl.key.password: the private key's password, when it is encrypted.
    public var keyPassword: String?
    /// ssl.truststore.location: PEM CA certificates for client certificates.
    public var truststoreLocation: String?
    /// ssl.truststore.certificates: the same, inline.
    public var truststoreCertificates: String?
    /// ssl.client.auth
    public var clientAuthentication = ClientAuthentication.none
    /// ssl.enabled.protocols
    public var enabledProtocols = ["TLSv1.2", "TLSv1.3"]
    /// ssl.cipher.suites (OpenSSL's names, or TLS 1.3's IANA ones); empty: OpenSSL's defaults.
    public var cipherSuites: [String] = []

    public init() {}
}

public struct TLSError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
    init(_ message: String) { self.message = message }

    /// OpenSSL's queued errors, as one line (and the queue emptied).
    static func openSSL(_ what: String) -> TLSError {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            reasons.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return TLSError(reasons.isEmpty ? what : "\(what): \(reasons.joined(separator: "; "))")
    }
}

public final class TLSContext: @unchecked Sendable {
    // An SSL_CTX is safe to share between threads once set up; only SSL objects are per connection.
    let context: OpaquePointer
    public let settings: TLSSettings

    public init(_ settings: TLSSettings) throws(TLSError) {
        guard let context = SSL_CTX_new(TLS_server_method()) else { throw .openSSL("SSL_CTX_new") }
        self.context = context
        self.settings = settings
        _ = swiftlet_ssl_ctx_set_mode(
            context, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS))
        // A client that closes without close_notify is done, not an attacker truncating a
        // record: Kafka's framing notices a cut request by itself.
        _ = SSL_CTX_set_options(context, swiftlet_ssl_op_ignore_unexpected_eof())
        // Kernel TLS where the kernel has the `tls` ULP: OpenSSL hands it the keys after the
        // handshake (else it carries on in user space), and file regions leave with sendfile.
        _ = SSL_CTX_set_options(context, swiftlet_ssl_op_enable_ktls())
        // Needed with client verification, or OpenSSL refuses resumed TLS 1.2 sessions.
        let sessionContext: [UInt8] = Array("swiftlet".utf8)
        _ = SSL_CTX_set_session_id_context(context, sessionContext, UInt32(sessionContext.count))
        try configureProtocols()
        try loadKeystore()
        try loadTruststore()
        switch settings.clientAuthentication {
        case .none: SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        case .requested: SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        case .required: SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
        }
    }

    deinit { SSL_CTX_free(context) }

    private func configureProtocols() throws(TLSError) {
        let versions = settings.enabledProtocols.map { name -> Int32? in
            switch name {
            case "TLSv1.2": TLS1_2_VERSION
            case "TLSv1.3": TLS1_3_VERSION
            default: nil
            }
        }
        guard !versions.isEmpty, versions.allSatisfy({ $0 != nil }) else {
            throw TLSError(
                "ssl.enabled.protocols: \(settings.enabledProtocols.joined(separator: ",")): only TLSv1.2 and TLSv1.3 are served")
        }
        _ = swiftlet_ssl_ctx_set_min_proto_version(context, versions.map { $0! }.min()!)
        _ = swiftlet_ssl_ctx_set_max_proto_version(context, versions.map { $0! }.max()!)
        guard !settings.cipherSuites.isEmpty else { return }
        let tls13 = settings.cipherSuites.filter { $0.hasPrefix("TLS_AES_") || $0.hasPrefix("TLS_CHACHA20_") }
        let older = settings.cipherSuites.filter { !tls13.contains($0) }
        if !tls13.isEmpty && SSL_CTX_set_ciphersuites(context, tls13.joined(separator: ":")) != 1 {
            throw .openSSL("ssl.cipher.suites: \(tls13.joined(separator: ","))")
        }
        if !older.isEmpty && SSL_CTX_set_cipher_list(context, older.joined(separator: ":")) != 1 {
            throw .openSSL("ssl.cipher.suites: \(older.joined(separator: ","))")
        }
    }

    private func loadKeystore() throws(TLSError) {
        let pem: [UInt8]
        let key: String
        if let location = settings.keystoreLocation {
            guard let bytes = Self.readFile(location) else { throw TLSError("ssl.keystore.location: cannot read \(location)") }
            pem = bytes
            key = "ssl.keystore.location"
        } else if let chain = settings.certificateChain, let privateKey = settings.privateKey {
            pem = Array((Self.normalizedPEM(privateKey) + "\n" + Self.normalizedPEM(chain)).utf8)
            key = "ssl.keystore.key"
        } else {
            throw TLSError("ssl.keystore.location (or ssl.keystore.key and ssl.keystore.certificate.chain) is needed by a TLS listener")
        }
        let certificates = Self.certificates(in: pem)
        guard let leaf = certificates.first else { throw TLSError("\(key): no certificate in it") }
        defer { for certificate in certificates { X509_free(certificate) } }
        guard SSL_CTX_use_certificate(context, leaf) == 1 else { throw .openSSL("\(key): the certificate") }
        for intermediate in certificates.dropFirst() {
            // SSL_CTX_add1_chain_cert keeps its own reference.
            guard SSL_CTX_ctrl(context, SSL_CTRL_CHAIN_CERT, 1, UnsafeMutableRawPointer(intermediate)) == 1 else {
                throw .openSSL("\(key): the certificate chain")
            }
        }
        let privateKey = pem.withUnsafeBytes { raw -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            if let password = settings.keyPassword {
                return password.withCString { PEM_read_bio_PrivateKey(bio, nil, nil, UnsafeMutableRawPointer(mutating: $0)) }
            }
            return PEM_read_bio_PrivateKey(bio, nil, nil, nil)
        }
        guard let privateKey else {
            throw .openSSL(
                "\(key): no private key that reads\(settings.keyPassword == nil ? " (is it encrypted? ssl.key.password)" : " with ssl.key.password")"
            )
        }
        defer { EVP_PKEY_free(privateKey) }
        guard SSL_CTX_use_PrivateKey(context, privateKey) == 1, SSL_CTX_check_private_key(context) == 1 else {
            throw .openSSL("\(key): the private key does not match the certificate")
        }
    }

    private func loadTruststore() throws(TLSError) {
        let pem: [UInt8]
        if let location = settings.truststoreLocation {
            guard let bytes = Self.readFile(location) else { throw TLSError("ssl.truststore.location: cannot read \(location)") }
            pem = bytes
        } else if let inline = settings.truststoreCertificates {
            pem = Array(Self.normalizedPEM(inline).utf8)
        } else {
            if settings.clientAuthentication != .none {
                throw TLSError(
                    "ssl.client.auth=\(settings.clientAuthentication.rawValue) needs ssl.truststore.location with the CAs of client certificates"
                )
            }
            return
        }
        let certificates = Self.certificates(in: pem)
        guard !certificates.isEmpty else { throw TLSError("ssl.truststore.location: no certificate in it") }
        let store = SSL_CTX_get_cert_store(context)
        for certificate in certificates {
            X509_STORE_add_cert(store, certificate)
            X509_free(certificate)
        }
        // The CA names sent in the CertificateRequest, so clients pick the right certificate.
        if let location = settings.truststoreLocation, let names = SSL_load_client_CA_file(location) {
            SSL_CTX_set_client_CA_list(context, names)
        }
    }

    /// Every certificate in a PEM text, in order (each owned by the caller).
    static func certificates(in pem: [UInt8]) -> [OpaquePointer] {
        pem.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return [] }
            defer { BIO_free(bio) }
            var found: [OpaquePointer] = []
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) { found.append(certificate) }
            ERR_clear_error()  // the end of the text reads as an error
            return found
        }
    }

    /// Kafka accepts inline PEM on one line (a properties value): the base64 body goes back
    /// on lines of its own between the BEGIN and END markers.
    static func normalizedPEM(_ text: String) -> String {
        var output = ""
        var rest = Substring(text)
        while let begin = rest.firstRange(of: "-----BEGIN ") {
            guard let headerEnd = rest[begin.upperBound...].firstRange(of: "-----"),
                let end = rest[headerEnd.upperBound...].firstRange(of: "-----END "),
                let endClose = rest[end.upperBound...].firstRange(of: "-----")
            else { break }
            let label = rest[begin.upperBound..<headerEnd.lowerBound]
            let body = rest[headerEnd.upperBound..<end.lowerBound].filter { !$0.isWhitespace }
            output += "-----BEGIN \(label)-----\n"
            var line = Substring(body)
            while !line.isEmpty {
                output += line.prefix(64) + "\n"
                line = line.dropFirst(64)
            }
            output += "-----END \(label)-----\n"
            rest = rest[endClose.upperBound...]
        }
        return output
    }

    private static func readFile(_ path: String) -> [UInt8]? {
        guard let bio = BIO_new_file(path, "r") else {
            ERR_clear_error()
            return nil
        }
        defer { BIO_free(bio) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = BIO_read(bio, &chunk, Int32(chunk.count))
            if count <= 0 { break }
            bytes += chunk.prefix(Int(count))
        }
        return bytes
    }
}

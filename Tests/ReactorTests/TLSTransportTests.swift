// The TLS transport's state machine driven through a BIO pair, with no socket: the handshake's
// WANT_READ / WANT_WRITE as the transport's interest, records both ways, a full pipe, a
// truncated ClientHello, garbage and plaintext Kafka, close_notify and a bare close, client
// certificates and protocol versions.

import COpenSSL
import SystemCalls
import TestSupport
import Testing

@testable import Reactor

/// A key and a self-signed certificate, as PEM, made once for all the tests.
private let serverIdentity = SelfSignedPEM()
private let clientIdentity = SelfSignedPEM()

private struct SelfSignedPEM {
    let key: String
    let certificate: String

    init() {
        var key: UnsafeMutablePointer<CChar>?
        var certificate: UnsafeMutablePointer<CChar>?
        precondition(swiftlet_make_self_signed("DNS:localhost", 1, &key, &certificate) == 1)
        self.key = String(cString: key!)
        self.certificate = String(cString: certificate!)
        free(key)
        free(certificate)
    }
}

/// The client end: OpenSSL in connect state over the other half of the pair.
private final class TestClient {
    private let context: OpaquePointer
    let connection: OpaquePointer

    init(bio: OpaquePointer, identity: SelfSignedPEM? = nil, maximumVersion: Int32? = nil) {
        context = SSL_CTX_new(TLS_client_method())!
        SSL_CTX_set_verify(context, SSL_VERIFY_NONE, nil)
        if let maximumVersion { _ = swiftlet_ssl_ctx_set_max_proto_version(context, maximumVersion) }
        if let identity {
            let certificate = TLSContext.certificates(in: Array(identity.certificate.utf8))[0]
            let key = Array(identity.key.utf8).withUnsafeBytes { raw in
                let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count))
                defer { BIO_free(bio) }
                return PEM_read_bio_PrivateKey(bio, nil, nil, nil)!
            }
            precondition(SSL_CTX_use_certificate(context, certificate) == 1 && SSL_CTX_use_PrivateKey(context, key) == 1)
            X509_free(certificate)
            EVP_PKEY_free(key)
        }
        connection = SSL_new(context)!
        SSL_set_bio(connection, bio, bio)
        SSL_set_connect_state(connection)
    }

    deinit {
        SSL_free(connection)
        SSL_CTX_free(context)
    }

    /// Advances the handshake; whether it is done.
    func handshake() -> Bool { SSL_do_handshake(connection) == 1 }

    /// Writes what fits of `bytes`; how many went.
    func write(_ bytes: [UInt8]) -> Int {
        let count = bytes.withUnsafeBytes { SSL_write(connection, $0.baseAddress, Int32($0.count)) }
        return max(0, Int(count))
    }

    /// Reads everything decrypted so far.
    func readAvailable() -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while case let count = SSL_read(connection, &buffer, Int32(buffer.count)), count > 0 {
            received += buffer.prefix(Int(count))
        }
        return received
    }
}

/// A server transport and a client joined by a BIO pair whose halves buffer `capacity` bytes.
private struct Pair {
    let server: TLSTransport
    let client: TestClient
    /// The client's half, for tests that write raw bytes instead of TLS.
    let clientEnd: OpaquePointer

    init(
        settings change: (inout TLSSettings) -> Void = { _ in }, clientIdentity: SelfSignedPEM? = nil, clientMaximumVersion: Int32? = nil,
        capacity: Int = 64 * 1024
    ) throws {
        var settings = TLSSettings()
        settings.certificateChain = serverIdentity.certificate
        settings.privateKey = serverIdentity.key
        change(&settings)
        var serverEnd: OpaquePointer?
        var clientEnd: OpaquePointer?
        precondition(BIO_new_bio_pair(&serverEnd, capacity, &clientEnd, capacity) == 1)
        server = try TLSTransport(bio: serverEnd!, context: TLSContext(settings))
        client = TestClient(bio: clientEnd!, identity: clientIdentity, maximumVersion: clientMaximumVersion)
        self.clientEnd = clientEnd!
    }

    /// Runs both sides until the handshake is done (as the reactor does, reading when
    /// readable); the server's reads before that wait, asking to read.
    func completeHandshake() throws {
        var buffer = [UInt8](repeating: 0, count: 1024)
        for _ in 0..<10 {
            let clientDone = client.handshake()
            let read = try buffer.withUnsafeMutableBytes { try server.read(into: $0) }
            #expect(read == .wouldBlock)
            if clientDone && server.handshakeComplete { return }
            if !server.handshakeComplete { #expect(server.interest == [.wantsRead]) }
        }
        Issue.record("the handshake did not complete")
    }

    /// What the server reads until it would block.
    func serverReads() throws -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while case .completed(let count) = try buffer.withUnsafeMutableBytes({ try server.read(into: $0) }), count > 0 {
            received += buffer.prefix(count)
        }
        return received
    }
}

/// A client's first flight, taken from a BIO pair of its own.
private func clientHello() -> [UInt8] {
    var clientEnd: OpaquePointer?
    var captureEnd: OpaquePointer?
    precondition(BIO_new_bio_pair(&clientEnd, 65_536, &captureEnd, 65_536) == 1)
    defer { BIO_free(captureEnd) }
    let client = TestClient(bio: clientEnd!)
    _ = client.handshake()
    var hello = [UInt8](repeating: 0, count: 4096)
    let length = BIO_read(captureEnd, &hello, Int32(hello.count))
    return Array(hello.prefix(Int(max(0, length))))
}

private func isTLSFailure(_ error: any Error, _ phase: String) -> Bool {
    guard let error = error as? SystemCallError else { return false }
    return error.errno == EPROTO && "\(error)".contains("TLS: \(phase)")
}

@Suite struct TLSTransportTests {
    @Test func handshakeThenRecordsBothWays() throws {
        let pair = try Pair()
        #expect(!pair.server.handshakeComplete)
        try pair.completeHandshake()
        #expect(pair.server.handshakeComplete && pair.server.peerSubject == nil)

        // Several records' worth each way, bigger than one 16 KiB record.
        let request = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        #expect(pair.client.write(request) == request.count)
        #expect(try pair.serverReads() == request)
        #expect(pair.server.interest == [.wantsRead])

        var queue = OutboundQueue()
        let response = (0..<40_000).map { UInt8(truncatingIfNeeded: $0 * 13) }
        queue.append(.bytes([0, 0, 0x9c, 0x40]))
        queue.append(.bytes(response))
        #expect(try pair.server.flush(&queue) == .drained)
        #expect(pair.client.readAvailable() == [0, 0, 0x9c, 0x40] + response)
    }

    @Test func fileRegionsGoThroughTheBufferWithoutKernelTLS() throws {
        // A BIO pair has no kernel to encrypt for it: the region is read and encrypted here.
        let pair = try Pair(capacity: 8192)
        try pair.completeHandshake()
        #expect(!pair.server.sendsFileRegions)
        let directory = TemporaryDirectory()
        let records = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 17) }
        try System.replaceFile(directory.path + "/segment", with: records)
        let descriptor = try System.open(directory.path + "/segment", .readOnly)
        defer { System.close(descriptor) }
        var queue = OutboundQueue()
        queue.append(.bytes([1, 2, 3]))
        queue.append(.file(FileRegion(descriptor: descriptor, offset: 1_000, length: 150_000, owner: nil)))
        var received: [UInt8] = []
        while try pair.server.flush(&queue) == .wouldBlock { received += pair.client.readAvailable() }
        received += pair.client.readAvailable()
        #expect(received == [1, 2, 3] + records[1_000..<151_000])
    }

    @Test func aFullPipeAsksToWriteAndResumesWhereItStopped() throws {
        let pair = try Pair(capacity: 4096)
        try pair.completeHandshake()
        var queue = OutboundQueue()
        let response = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        queue.append(.bytes(response))
        var received: [UInt8] = []
        var blocked = 0
        while try pair.server.flush(&queue) == .wouldBlock {
            blocked += 1
            #expect(pair.server.interest == [.wantsWrite])
            received += pair.client.readAvailable()
            #expect(blocked < 1_000)
        }
        received += pair.client.readAvailable()
        #expect(blocked > 10)
        #expect(received == response)
    }

    @Test func aTruncatedClientHelloWaitsAndItsEndIsAClose() throws {
        let hello = clientHello()
        #expect(hello.count > 100 && hello[0] == 22)  // a handshake record
        let pair = try Pair()
        #expect(BIO_write(pair.clientEnd, hello, Int32(hello.count / 2)) == Int32(hello.count / 2))
        var buffer = [UInt8](repeating: 0, count: 1024)
        #expect(try buffer.withUnsafeMutableBytes { try pair.server.read(into: $0) } == .wouldBlock)
        #expect(pair.server.interest == [.wantsRead] && !pair.server.handshakeComplete)
        // The client goes away mid-hello: the server sees the end of the connection.
        BIO_ctrl(pair.clientEnd, BIO_C_SHUTDOWN_WR, 0, nil)
        #expect(try buffer.withUnsafeMutableBytes { try pair.server.read(into: $0) } == .completed(0))
    }

    @Test func garbageAndPlaintextKafkaAreHandshakeFailures() throws {
        for bytes: [UInt8] in [
            Array(repeating: 0x41, count: 300),
            [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0xff, 0xff],  // ApiVersions v0 in plaintext
        ] {
            let pair = try Pair()
            #expect(BIO_write(pair.clientEnd, bytes, Int32(bytes.count)) == Int32(bytes.count))
            var buffer = [UInt8](repeating: 0, count: 1024)
            do {
                let read = try buffer.withUnsafeMutableBytes { try pair.server.read(into: $0) }
                Issue.record("read \(read) from \(bytes.count) bytes of garbage")
            } catch {
                #expect(isTLSFailure(error, "handshake failed"), "\(error)")
            }
        }
    }

    @Test func closeNotifyAndABareCloseBothReadAsTheEnd() throws {
        let pair = try Pair()
        try pair.completeHandshake()
        #expect(pair.client.write(Array("last request".utf8)) == 12)
        SSL_shutdown(pair.client.connection)
        var buffer = [UInt8](repeating: 0, count: 1024)
        #expect(try buffer.withUnsafeMutableBytes { try pair.server.read(into: $0) } == .completed(12))
        #expect(try buffer.withUnsafeMutableBytes { try pair.server.read(into: $0) } == .completed(0))

        let bare = try Pair()
        try bare.completeHandshake()
        BIO_ctrl(bare.clientEnd, BIO_C_SHUTDOWN_WR, 0, nil)
        #expect(try buffer.withUnsafeMutableBytes { try bare.server.read(into: $0) } == .completed(0))
    }

    @Test func aRequiredClientCertificateGivesThePrincipalsName() throws {
        let required: (inout TLSSettings) -> Void = {
            $0.clientAuthentication = .required
            $0.truststoreCertificates = clientIdentity.certificate
        }
        let pair = try Pair(settings: required, clientIdentity: clientIdentity)
        try pair.completeHandshake()
        #expect(pair.server.peerSubject == "CN=Swiftlet development broker")

        // Without a certificate the handshake fails on the server.
        let anonymous = try Pair(settings: required)
        var buffer = [UInt8](repeating: 0, count: 1024)
        var failure: (any Error)?
        for _ in 0..<10 where failure == nil {
            _ = anonymous.client.handshake()
            do { _ = try buffer.withUnsafeMutableBytes { try anonymous.server.read(into: $0) } } catch { failure = error }
        }
        #expect(failure.map { isTLSFailure($0, "handshake failed") } == true, "\(String(describing: failure))")
        #expect(!anonymous.server.handshakeComplete)
    }

    @Test func aProtocolVersionNotEnabledIsRefused() throws {
        let pair = try Pair(settings: { $0.enabledProtocols = ["TLSv1.3"] }, clientMaximumVersion: TLS1_2_VERSION)
        var buffer = [UInt8](repeating: 0, count: 1024)
        var failure: (any Error)?
        for _ in 0..<10 where failure == nil {
            _ = pair.client.handshake()
            do { _ = try buffer.withUnsafeMutableBytes { try pair.server.read(into: $0) } } catch { failure = error }
        }
        #expect(failure.map { isTLSFailure($0, "handshake failed") } == true)
    }
}

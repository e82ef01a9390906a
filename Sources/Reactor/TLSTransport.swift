// TLS over a connection's socket, inside the reactor: OpenSSL reads and writes the socket
// itself (non-blocking), and its WANT_READ / WANT_WRITE become the transport's interest, never
// a blocking call. The handshake runs as the first reads and writes need it. File regions go
// with SSL_sendfile when the kernel does the encryption (kernel TLS), else through a buffer of
// the transport's own.

import COpenSSL
import Glibc
import SystemCalls

final class TLSTransport: Transport {
    private let connection: OpaquePointer
    let descriptor: Int32
    private(set) var interest: TransportInterest = []
    private(set) var handshakeComplete = false
    /// Where file regions are read before encryption: one per connection, reused.
    private var fileBuffer: [UInt8] = []
    /// Where byte parts are gathered into one record before encryption: reused as well.
    private var recordBuffer: [UInt8] = []

    convenience init(descriptor: Int32, context: TLSContext) throws(SystemCallError) {
        try self.init(context: context, descriptor: descriptor)
        SSL_set_fd(connection, descriptor)
    }

    /// Over a BIO instead of a socket (one end of a BIO pair, owned from here on): the unit
    /// tests drive the handshake and records through memory, with no socket.
    convenience init(bio: OpaquePointer, context: TLSContext) throws(SystemCallError) {
        try self.init(context: context, descriptor: -1)
        SSL_set_bio(connection, bio, bio)
    }

    private init(context: TLSContext, descriptor: Int32) throws(SystemCallError) {
        guard let connection = SSL_new(context.context) else {
            ERR_clear_error()
            throw SystemCallError(call: "SSL_new", errno: ENOMEM)
        }
        self.connection = connection
        self.descriptor = descriptor
        SSL_set_accept_state(connection)
    }

    deinit { SSL_free(connection) }

    /// Whether the kernel encrypts what is sent (kernel TLS, set up by OpenSSL after the
    /// handshake when the kernel has the `tls` ULP): file regions then go with SSL_sendfile.
    var sendsFileRegions: Bool { handshakeComplete && swiftlet_bio_get_ktls_send(SSL_get_wbio(connection)) != 0 }
    /// SSL_read hands over one record at a time: a short read does not mean the socket is
    /// drained, so the reactor reads on until it would block.
    var shortReadMeansDrained: Bool { false }

    /// The client certificate's subject as RFC 2253 writes it ("CN=client,O=Example"), which
    /// is Kafka's DEFAULT principal mapping; nil without one.
    var peerSubject: String? {
        guard let certificate = SSL_get1_peer_certificate(connection) else { return nil }
        defer { X509_free(certificate) }
        guard let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        X509_NAME_print_ex(bio, X509_get_subject_name(certificate), 0, swiftlet_xn_flag_rfc2253())
        var data: UnsafeMutablePointer<CChar>?
        let length = swiftlet_bio_get_mem_data(bio, &data)
        guard let data, length > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SystemCallError) -> IOResult<Int> {
        let count = SSL_read(connection, buffer.baseAddress, Int32(min(buffer.count, Int(Int32.max))))
        if count > 0 {
            settle()
            return .completed(Int(count))
        }
        return try outcome(of: count, call: "SSL_read")
    }

    func flush(_ queue: inout OutboundQueue) throws(SystemCallError) -> OutboundQueue.FlushResult {
        if !handshakeComplete {
            let result = SSL_do_handshake(connection)
            if result != 1 {
                _ = try outcome(of: result, call: "SSL_do_handshake")
                return .wouldBlock
            }
            settle()
        }
        return try queue.flush(through: self)
    }

    /// Encrypts and sends what it can of `bytes`; `.wouldBlock` when the socket is full.
    func write(_ bytes: UnsafeRawBufferPointer) throws(SystemCallError) -> IOResult<Int> {
        guard !bytes.isEmpty else { return .completed(0) }
        let count = SSL_write(connection, bytes.baseAddress, Int32(min(bytes.count, 1 << 20)))
        if count > 0 {
            settle()
            return .completed(Int(count))
        }
        return try outcome(of: count, call: "SSL_write")
    }

    /// Sends a file region's next bytes from the page cache, encrypted by the kernel (only
    /// when `sendsFileRegions`).
    func sendFile(_ region: FileRegion, from sent: Int) throws(SystemCallError) -> IOResult<Int> {
        let count = SSL_sendfile(connection, region.descriptor, off_t(region.offset + Int64(sent)), region.length - sent, 0)
        if count > 0 {
            settle()
            return .completed(count)
        }
        return try outcome(of: Int32(clamping: count), call: "SSL_sendfile")
    }

    /// Encrypts and sends what it can of the bytes `gather` puts in the transport's record
    /// buffer (emptied first).
    func writeGathered(_ gather: (inout [UInt8]) -> Void) throws(SystemCallError) -> IOResult<Int> {
        recordBuffer.removeAll(keepingCapacity: true)
        gather(&recordBuffer)
        return try recordBuffer.withUnsafeBytes { raw in Result { () throws(SystemCallError) in try write(raw) } }.get()
    }

    /// A file region's next bytes, read into the transport's buffer for encryption.
    func withFileBytes<Output>(
        _ region: FileRegion, from sent: Int, _ body: (UnsafeRawBufferPointer) throws(SystemCallError) -> Output
    ) throws(SystemCallError) -> Output {
        let count = min(region.length - sent, 64 * 1024)
        if fileBuffer.count < count { fileBuffer = [UInt8](repeating: 0, count: 64 * 1024) }
        let read = try fileBuffer.withUnsafeMutableBytes { raw in
            Result { () throws(SystemCallError) in
                try System.pread(
                    region.descriptor, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<count]), at: region.offset + Int64(sent))
            }
        }.get()
        guard read > 0 else { throw SystemCallError(call: "pread (region past the end of the file)", errno: EIO) }
        return try fileBuffer.withUnsafeBytes { raw in
            Result { () throws(SystemCallError) in try body(UnsafeRawBufferPointer(rebasing: raw[0..<read])) }
        }.get()
    }

    private func settle() {
        interest = []
        noteHandshake()
    }

    /// The handshake can end inside a read that then waits for the first request: a client
    /// that says nothing for a while after it must not be taken for a stalled handshake.
    private func noteHandshake() {
        if !handshakeComplete && SSL_is_init_finished(connection) == 1 { handshakeComplete = true }
    }

    /// What a call returning `result` (0 or less) means for the reactor.
    private func outcome(of result: Int32, call: String) throws(SystemCallError) -> IOResult<Int> {
        noteHandshake()
        let error = SSL_get_error(connection, result)
        switch error {
        case SSL_ERROR_WANT_READ:
            interest = [.wantsRead]
            return .wouldBlock
        case SSL_ERROR_WANT_WRITE:
            interest = [.wantsWrite]
            return .wouldBlock
        case SSL_ERROR_ZERO_RETURN:
            return .completed(0)  // close_notify: the peer is done
        case SSL_ERROR_SYSCALL where result == 0 || errno == 0:
            ERR_clear_error()
            return .completed(0)  // the peer closed without close_notify
        case SSL_ERROR_SYSCALL:
            ERR_clear_error()
            throw SystemCallError(call: call, errno: errno)
        default:
            // Not TLS (a plaintext request on a TLS port), a failed handshake, a bad record.
            ERR_clear_error()
            throw SystemCallError(call: "\(call) (TLS: \(handshakeComplete ? "bad record" : "handshake failed"))", errno: EPROTO)
        }
    }
}

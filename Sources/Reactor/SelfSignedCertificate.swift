// `--tls-self-signed`: a key and a certificate made once for a development broker, kept in its
// data directory and reused, so clients trust one CA file across restarts. The certificate
// is its own CA and names the advertised hosts (clients check them).

import COpenSSL
import Glibc
import SystemCalls

public enum SelfSignedCertificate {
    /// The PEM files in `directory`: `broker-keystore.pem` (key and certificate, Kafka's PEM
    /// keystore) and `ca.pem` (what clients give as ssl.ca.location). Made when missing.
    public static func ensure(in directory: String, hosts: [String]) throws(TLSError) -> (keystore: String, certificateAuthority: String) {
        let keystore = directory + "/broker-keystore.pem"
        let certificateAuthority = directory + "/ca.pem"
        let existingKeystore = (try? System.readFileIfPresent(keystore)) ?? nil
        let existingAuthority = (try? System.readFileIfPresent(certificateAuthority)) ?? nil
        if let existingKeystore, !existingKeystore.isEmpty, existingAuthority != nil { return (keystore, certificateAuthority) }
        var names = ["DNS:localhost", "IP:127.0.0.1", "IP:::1"]
        for host in hosts {
            let entry = (SocketAddress(host + ":0") != nil ? "IP:" : "DNS:") + host
            if !names.contains(entry) { names.append(entry) }
        }
        var key: UnsafeMutablePointer<CChar>?
        var certificate: UnsafeMutablePointer<CChar>?
        guard swiftlet_make_self_signed(names.joined(separator: ","), 3_650, &key, &certificate) == 1, let key, let certificate else {
            throw .openSSL("--tls-self-signed: making the certificate")
        }
        defer {
            free(key)
            free(certificate)
        }
        let keyText = String(cString: key)
        let certificateText = String(cString: certificate)
        do {
            // The data directory itself may not exist yet on a first start.
            let parent = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
            if !parent.isEmpty { try System.makeDirectory(parent) }
            try System.makeDirectory(directory, mode: 0o700)
            try System.replaceFile(keystore, with: Array((keyText + certificateText).utf8))
            try System.setPermissions(keystore, mode: 0o600)
            try System.replaceFile(certificateAuthority, with: Array(certificateText.utf8))
        } catch {
            throw TLSError("--tls-self-signed: cannot write \(directory): \(error)")
        }
        return (keystore, certificateAuthority)
    }
}

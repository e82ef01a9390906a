// A TLS listener's settings, checked when its context is made: what is missing or wrong is
// named by Kafka's key; inline PEM on one line is read as Kafka reads it. (Handshakes and
// records with real clients are in the Interop suite.)

import Testing

@testable import Reactor

@Suite struct TLSContextTests {
    func refusal(_ change: (inout TLSSettings) -> Void) -> String? {
        var settings = TLSSettings()
        change(&settings)
        do {
            _ = try TLSContext(settings)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func missingOrWrongSettingsNameTheirKey() {
        #expect(refusal { _ in }?.hasPrefix("ssl.keystore.location (or ssl.keystore.key and ssl.keystore.certificate.chain)") == true)
        #expect(
            refusal { $0.keystoreLocation = "/nonexistent/keystore.pem" } == "ssl.keystore.location: cannot read /nonexistent/keystore.pem")
        #expect(refusal { $0.enabledProtocols = ["TLSv1.1"] }?.hasPrefix("ssl.enabled.protocols: TLSv1.1") == true)
        #expect(
            refusal {
                $0.certificateChain = "not pem"
                $0.privateKey = "not pem"
            } == "ssl.keystore.key: no certificate in it")
    }

    @Test func inlinePemOnOneLineGetsItsLinesBack() {
        let body = String(repeating: "QUJD", count: 40)
        let oneLine = "-----BEGIN CERTIFICATE----- \(body) -----END CERTIFICATE-----"
        let normalized = TLSContext.normalizedPEM(oneLine)
        let lines = normalized.split(separator: "\n")
        #expect(lines.first == "-----BEGIN CERTIFICATE-----" && lines.last == "-----END CERTIFICATE-----")
        #expect(lines.dropFirst().dropLast().allSatisfy { $0.count <= 64 })
        #expect(lines.dropFirst().dropLast().joined() == body)
    }
}

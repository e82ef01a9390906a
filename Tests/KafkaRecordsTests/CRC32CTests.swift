// CRC-32C known answers (the iSCSI test vectors of RFC 3720 and the standard check value),
// and agreement of the hardware and portable paths on every length class.

import KafkaRecords
import Testing

@Suite struct CRC32CTests {
    @Test func knownAnswers() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8]()) == 0)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).reversed().map { UInt8($0) }) == 0x113F_DB5C)
    }

    @Test func hardwareAndPortableAgree() {
        var generator = SystemRandomNumberGenerator()
        let data = (0..<70_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        // Lengths around the 3-way block sizes (256 and 8192 bytes) and odd tails.
        for length in [0, 1, 7, 8, 9, 767, 768, 769, 24_575, 24_576, 24_577, 50_001, 70_000] {
            let slice = Array(data[0..<length])
            #expect(CRC32C.checksum(slice) == CRC32C.portableChecksum(slice), "length \(length)")
        }
    }

    @Test func continuationEqualsWhole() {
        let data = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let first = CRC32C.checksum(Array(data[0..<3_333]))
        #expect(CRC32C.checksum(Array(data[3_333...]), continuing: first) == CRC32C.checksum(data))
        #expect(CRC32C.checksum(data, range: 100..<9_000) == CRC32C.checksum(Array(data[100..<9_000])))
    }
}

// Every generated message at every version: a sample with a non-default value in each
// field the version carries must encode, decode to an equal value, and re-encode to the
// same bytes. A codec that drops, reorders or mis-sizes any field fails here.

import KafkaProtocol
import KafkaWire
import Testing

protocol Sampled {
    static func sample(version: Int16, seed: Int) -> Self
}

func checkRoundTrip<Message: KafkaMessage & Sampled>(_: Message.Type) throws {
    for version in Message.validVersions {
        let original = Message.sample(version: version, seed: 1)
        let bytes = try original.encoded(version: version)
        let decoded = try Message(bytes: bytes, version: version)
        #expect(decoded == original, "\(Message.self) v\(version) decoded differently")
        #expect(try decoded.encoded(version: version) == bytes, "\(Message.self) v\(version) re-encoded differently")
        // Every byte matters: dropping the last one must fail cleanly, not trap.
        if !bytes.isEmpty {
            #expect(throws: DecodeError.self) { try Message(bytes: Array(bytes.dropLast()), version: version) }
        }
    }
}

@Suite struct RoundTripTests {
    @Test(arguments: generatedRoundTripCases.keys.sorted())
    func roundTrip(message: String) throws {
        try generatedRoundTripCases[message]!()
    }

    @Test func everyApiKeyHasBothMessages() {
        #expect(ApiKey.allCases.count >= 70)
        for key in ApiKey.allCases {
            #expect(key.requestType.apiKey == key)
            #expect(key.responseType.apiKey == key)
            #expect(key.requestType.validVersions == key.responseType.validVersions)
        }
    }
}

// A tagged field this decoder does not know: kept as raw bytes so a message re-encodes
// exactly as it arrived, and newer clients' extensions pass through unharmed.

public struct RawTaggedField: Hashable, Sendable {
    public var tag: UInt32
    public var data: [UInt8]

    public init(tag: UInt32, data: [UInt8]) {
        self.tag = tag
        self.data = data
    }
}

// CRC-32C as RecordBatch v2 uses it; the C target picks the crc32 instruction when the CPU
// has one.

import CCRC32C

public enum CRC32C {
    /// The checksum of `bytes`, or its continuation from `initial`.
    public static func checksum<C: ContiguousBytes>(_ bytes: C, continuing initial: UInt32 = 0) -> UInt32 {
        bytes.withUnsafeBytes { swiftlet_crc32c(initial, $0.baseAddress, $0.count) }
    }

    /// The checksum of `bytes[range]` without copying.
    public static func checksum(_ bytes: [UInt8], range: Range<Int>) -> UInt32 {
        bytes.withUnsafeBytes { raw in
            swiftlet_crc32c(0, raw.baseAddress.map { $0 + range.lowerBound }, range.count)
        }
    }

    /// The table-driven path, for tests that compare it with the hardware one.
    public static func portableChecksum<C: ContiguousBytes>(_ bytes: C) -> UInt32 {
        bytes.withUnsafeBytes { swiftlet_crc32c_portable(0, $0.baseAddress, $0.count) }
    }

    public static var usesHardware: Bool { swiftlet_crc32c_hardware() != 0 }
}

/// Contiguous byte storage (Array, ArraySlice, UnsafeRawBufferPointer, ...), without Foundation.
public protocol ContiguousBytes {
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension Array: ContiguousBytes where Element == UInt8 {}
extension ArraySlice: ContiguousBytes where Element == UInt8 {}
extension UnsafeRawBufferPointer: ContiguousBytes {
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R { try body(self) }
}

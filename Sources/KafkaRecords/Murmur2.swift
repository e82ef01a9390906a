// Kafka's murmur2, the hash its default partitioner places keyed records by: the broker's
// console and the command line's producer put a record where a Java producer would.

public enum Murmur2 {
    /// Kafka's Utils.murmur2 (seed 0x9747b28c), over the key's bytes.
    public static func hash(_ data: [UInt8]) -> Int32 {
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: data.count)
        let whole = data.count / 4
        for index in 0..<whole {
            let base = index * 4
            var k = UInt32(data[base]) | UInt32(data[base + 1]) << 8 | UInt32(data[base + 2]) << 16 | UInt32(data[base + 3]) << 24
            k = k &* m
            k ^= k >> r
            k = k &* m
            h = h &* m
            h ^= k
        }
        let tail = whole * 4
        switch data.count % 4 {
        case 3:
            h ^= UInt32(data[tail + 2]) << 16
            fallthrough
        case 2:
            h ^= UInt32(data[tail + 1]) << 8
            fallthrough
        case 1:
            h ^= UInt32(data[tail])
            h = h &* m
        default: break
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }

    /// Where Kafka's default partitioner puts a record with `key`: its hash, positive, modulo
    /// the partitions.
    public static func partition(of key: [UInt8], count: Int32) -> Int32 {
        Int32((UInt32(bitPattern: hash(key)) & 0x7fff_ffff) % UInt32(max(count, 1)))
    }
}

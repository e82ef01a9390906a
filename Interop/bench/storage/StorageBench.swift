// Release-build benchmark of the log (a measurement, not a test): append throughput for
// 1 KiB and 1 MiB batches next to dd's sequential-write ceiling on the same disk, reads sent
// to a socket with sendfile, and recovery time for a 1 GiB segment.
// Run: swift run -c release storage-bench [directory]   (default /tmp; needs ~3 GiB free)

import Foundation
import KafkaRecords
import KafkaWire
import LogStorage
import SystemCalls

@main
struct StorageBench {
    static func main() throws {
        let root = (CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "/tmp") + "/swiftlet-storage-bench-\(getpid())"
        try System.makeDirectory(root)
        defer { _ = try? Process.run(URL(fileURLWithPath: "/bin/rm"), arguments: ["-rf", root]).waitUntilExit() }
        print("| what | throughput |")
        print("|---|---|")
        print("| dd 1 MiB blocks, page cache | \(dd(root, sync: false)) |")
        print("| dd 1 MiB blocks, then fdatasync | \(dd(root, sync: true)) |")
        for (batchSize, total) in [(1_024, 256 << 20), (1 << 20, 1 << 30)] {
            for sync in [false, true] {
                let rate = try append(root: root + "/append-\(batchSize)-\(sync)", batchSize: batchSize, totalBytes: total, sync: sync)
                print("| log append, \(batchSize == 1_024 ? "1 KiB" : "1 MiB") batches\(sync ? ", then flush" : "") | \(format(rate)) |")
            }
        }
        let (readRate, recoverySeconds) = try readAndRecover(root: root + "/read")
        print("| log read to a TCP socket with sendfile (1 MiB fetches) | \(format(readRate)) |")
        print("")
        print(
            "Recovery of an unclean 1 GiB segment (every batch CRC-checked, indexes rebuilt): \(String(format: "%.2f", recoverySeconds)) s")
    }

    static func format(_ bytesPerSecond: Double) -> String {
        String(format: "%.0f MB/s", bytesPerSecond / 1e6)
    }

    static func seconds(since start: UInt64) -> Double { Double(System.monotonicNanoseconds() - start) / 1e9 }

    static func dd(_ root: String, sync: Bool) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/dd")
        process.arguments = ["if=/dev/zero", "of=\(root)/dd.bin", "bs=1M", "count=1024"] + (sync ? ["conv=fdatasync"] : [])
        let errors = Pipe()
        process.standardError = errors
        try? process.run()
        process.waitUntilExit()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        try? System.unlink(root + "/dd.bin")
        return text.split(separator: "\n").last.map { $0.split(separator: ",").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" }
            ?? "?"
    }

    static func batch(of size: Int) throws -> [UInt8] {
        let recordSize = min(size, 1_024) - 80
        let count = max(1, size / (recordSize + 20))
        return try RecordBatchBuilder().build(
            (0..<count).map { index in
                Record(
                    offset: Int64(index), timestamp: 1_700_000_000_000, key: nil,
                    value: (0..<recordSize).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) })
            })
    }

    static func append(root: String, batchSize: Int, totalBytes: Int, sync: Bool) throws -> Double {
        let manager = try LogManager(dataDirectory: root, configuration: { _ in LogConfiguration() })
        var configuration = LogConfiguration()
        configuration.maximumBatchBytes = 2 << 20
        let log = try manager.createPartition(TopicPartition(topic: "bench", partition: 0), configuration: configuration)
        let bytes = try batch(of: batchSize)
        let count = totalBytes / bytes.count
        let start = System.monotonicNanoseconds()
        for _ in 0..<count { _ = try log.append(bytes, leaderEpoch: 0, now: 0) }
        if sync { try log.flush() }
        let rate = Double(count * bytes.count) / seconds(since: start)
        try manager.deletePartition(TopicPartition(topic: "bench", partition: 0))
        return rate
    }

    static func readAndRecover(root: String) throws -> (Double, Double) {
        let partition = TopicPartition(topic: "bench", partition: 0)
        var configuration = LogConfiguration()
        configuration.maximumBatchBytes = 2 << 20
        var manager: LogManager? = try LogManager(dataDirectory: root, configuration: { _ in configuration })
        let log = try manager!.createPartition(partition, configuration: configuration)
        let bytes = try batch(of: 1 << 20)
        while log.sizeInBytes < 1 << 30 { _ = try log.append(bytes, leaderEpoch: 0, now: 0) }

        // A loopback TCP connection whose far end a thread drains.
        let listener = try System.tcpSocket(family: 2)
        try System.bind(listener, to: SocketAddress("127.0.0.1:0")!)
        try System.listen(listener, backlog: 1)
        let client = try System.tcpSocket(family: 2)
        _ = try System.connect(client, to: try System.localAddress(listener)!)
        _ = try System.waitReadable(listener, timeoutMilliseconds: 5_000)
        guard case .completed((let server, _)) = try System.accept(listener) else { fatalError("no connection") }
        let drain = try OSThread(name: "drain") {
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let result = try? buffer.withUnsafeMutableBytes { try System.read(client, into: $0) }
                switch result {
                case .completed(0)?, nil: return
                case .completed?: continue
                case .wouldBlock?: _ = try? System.waitReadable(client, timeoutMilliseconds: 1_000)
                }
            }
        }
        let start = System.monotonicNanoseconds()
        var offset: Int64 = 0
        var sent = 0
        while offset < log.logEndOffset {
            let read = try log.read(from: offset, maxBytes: 1 << 20, minOneBatch: true)
            for region in read.regions {
                var done = 0
                while done < region.length {
                    switch try System.sendfile(
                        to: server, from: region.file.descriptor, offset: region.position + Int64(done), count: region.length - done)
                    {
                    case .completed(let count): done += count
                    case .wouldBlock: _ = try System.waitWritable(server, timeoutMilliseconds: 1_000)
                    }
                }
                sent += region.length
            }
            offset = try RecordBatch.batches(in: try region(read), allowPartialTail: true).last!.nextOffset
        }
        let readRate = Double(sent) / seconds(since: start)
        System.close(server)
        drain.join()
        System.close(client)
        System.close(listener)

        // Drop the manager without shutdown(): the next open recovers.
        manager = nil
        let recoveryStart = System.monotonicNanoseconds()
        manager = try LogManager(dataDirectory: root, configuration: { _ in configuration })
        let recovery = seconds(since: recoveryStart)
        precondition(manager!.partition(partition)!.logEndOffset == log.logEndOffset)
        return (readRate, recovery)
    }

    /// The first 61 bytes of each batch are enough to find the next offset.
    static func region(_ read: ReadResult) throws -> [UInt8] {
        guard let region = read.regions.first else { return [] }
        var bytes = [UInt8](repeating: 0, count: region.length)
        _ = try bytes.withUnsafeMutableBytes { try System.pread(region.file.descriptor, into: $0, at: region.position) }
        return bytes
    }
}

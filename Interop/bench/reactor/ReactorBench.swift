// Release-build benchmark of the network core (a measurement, not a test): small-request
// round trips per second over 1, 100 and 1,000 connections, and a large file region sent
// with sendfile, each against 1 and 2 event loops; the server runs as a child process so
// its CPU time per request is read from /proc alone.
// Run: swift run -c release reactor-bench

import Foundation
import Reactor
import SystemCalls

@main
struct ReactorBench {
    static func main() throws {
        let arguments = CommandLine.arguments
        if arguments.count >= 3 && arguments[1] == "serve" {
            try serve(loops: Int(arguments[2])!)
            return
        }
        print("| event loops | connections | round trips/s | server CPU µs/request |")
        print("|---|---|---|---|")
        var transfers: [(Int, Double, Double)] = []
        for loops in [1, 2] {
            let server = try ServerProcess(loops: loops)
            for connections in [1, 100, 1_000] {
                let before = server.cpuSeconds()
                let (trips, seconds) = try roundTrips(address: server.address, connections: connections, seconds: 3)
                let cpu = server.cpuSeconds() - before
                print(
                    "| \(loops) | \(connections) | \(Int(Double(trips) / seconds)) | \(String(format: "%.2f", cpu / Double(trips) * 1e6)) |"
                )
            }
            let before = server.cpuSeconds()
            let (bytes, seconds) = try bulkTransfer(address: server.address, seconds: 3)
            transfers.append((loops, Double(bytes) / seconds / 1e9, (server.cpuSeconds() - before) / (Double(bytes) / 1e9)))
            server.stop()
        }
        print("")
        print("| event loops | sendfile response throughput | server CPU s/GB |")
        print("|---|---|---|")
        for (loops, rate, cpu) in transfers {
            print("| \(loops) | \(String(format: "%.2f", rate)) GB/s | \(String(format: "%.3f", cpu)) |")
        }
    }

    // MARK: Server side (child process)

    static let bulkSize = 64 * 1024 * 1024

    static func serve(loops: Int) throws {
        let file = try System.memoryFile(name: "bench-region")
        let chunk = [UInt8](repeating: 0x5A, count: 1 << 20)
        for index in 0..<(bulkSize >> 20) {
            try chunk.withUnsafeBytes { try System.pwrite(file, $0, at: Int64(index) << 20) }
        }
        var configuration = ServerConfiguration(listenAddresses: [SocketAddress("127.0.0.1:0")!])
        configuration.eventLoopCount = loops
        configuration.backlog = 4_096
        let server = try Server(
            configuration: configuration,
            handlerFactory: BenchHandlerFactory(region: FileRegion(descriptor: file, offset: 0, length: bulkSize, owner: nil)))
        try server.start()
        FileHandle.standardOutput.write(Data("\(server.boundAddresses[0].port)\n".utf8))
        _ = readLine()  // the driver closes our stdin to stop us
        server.shutdown()
        server.waitUntilStopped()
    }

    struct BenchHandlerFactory: ConnectionHandlerFactory {
        let region: FileRegion
        func makeHandler(for connection: ConnectionInfo) -> any ConnectionHandler { BenchHandler(region: region) }
    }

    final class BenchHandler: ConnectionHandler {
        let region: FileRegion
        init(region: FileRegion) { self.region = region }
        func received(frame: [UInt8], responder: Responder) {
            if frame.first == 1 { responder.respond([.file(region)]) } else { responder.respond(frame) }
        }
        func connectionClosed() {}
    }

    final class ServerProcess {
        let process = Process()
        let input = Pipe()
        let address: SocketAddress

        init(loops: Int) throws {
            process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            process.arguments = ["serve", String(loops)]
            let output = Pipe()
            process.standardOutput = output
            process.standardInput = input
            try process.run()
            var line = ""
            while !line.hasSuffix("\n") {
                let byte = output.fileHandleForReading.readData(ofLength: 1)
                if byte.isEmpty { break }
                line += String(decoding: byte, as: UTF8.self)
            }
            address = SocketAddress("127.0.0.1:\(line.trimmingCharacters(in: .whitespacesAndNewlines))")!
        }

        /// utime + stime of the server process, from /proc/PID/stat.
        func cpuSeconds() -> Double {
            guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return 0 }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            let ticks = (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
            return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
        }

        func stop() {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }
    }

    // MARK: Client side

    /// Closed loop: each connection keeps one 32-byte request outstanding.
    static func roundTrips(address: SocketAddress, connections: Int, seconds: Double) throws -> (Int, Double) {
        let epoll = try System.epollCreate()
        defer { System.close(epoll) }
        let request = [0, 0, 0, 32] + [UInt8](repeating: 7, count: 32)
        var sockets: [Int32] = []
        var received = [Int](repeating: 0, count: connections)
        for index in 0..<connections {
            let socket = try System.tcpSocket(family: address.family)
            _ = try System.connect(socket, to: address)
            _ = try System.waitWritable(socket, timeoutMilliseconds: 5_000)
            try System.epollAdd(epoll, socket, events: .readable, data: UInt64(index))
            sockets.append(socket)
        }
        defer { for socket in sockets { System.close(socket) } }
        for socket in sockets { _ = try request.withUnsafeBytes { try System.write(socket, $0) } }
        var trips = 0
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var events = [UInt32](repeating: 0, count: 256)
        var data = [UInt64](repeating: 0, count: 256)
        let start = System.monotonicNanoseconds()
        let end = start + UInt64(seconds * 1e9)
        while System.monotonicNanoseconds() < end {
            let count = try events.withUnsafeMutableBufferPointer { eventBuffer in
                try data.withUnsafeMutableBufferPointer {
                    try System.epollWait(epoll, events: eventBuffer, data: $0, timeoutMilliseconds: 100)
                }
            }
            for index in 0..<count {
                let connection = Int(data[index])
                while case .completed(let bytes) = try buffer.withUnsafeMutableBytes({ try System.read(sockets[connection], into: $0) }),
                    bytes > 0
                {
                    received[connection] += bytes
                    while received[connection] >= request.count {
                        received[connection] -= request.count
                        trips += 1
                        _ = try request.withUnsafeBytes { try System.write(sockets[connection], $0) }
                    }
                }
            }
        }
        return (trips, Double(System.monotonicNanoseconds() - start) / 1e9)
    }

    /// One connection asking for 64 MiB file regions back to back.
    static func bulkTransfer(address: SocketAddress, seconds: Double) throws -> (Int, Double) {
        let socket = try System.tcpSocket(family: address.family)
        defer { System.close(socket) }
        _ = try System.connect(socket, to: address)
        _ = try System.waitWritable(socket, timeoutMilliseconds: 5_000)
        let request: [UInt8] = [0, 0, 0, 1, 1]
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var total = 0
        let start = System.monotonicNanoseconds()
        let end = start + UInt64(seconds * 1e9)
        while System.monotonicNanoseconds() < end {
            _ = try request.withUnsafeBytes { try System.write(socket, $0) }
            var remaining = bulkSize + 4
            while remaining > 0 {
                switch try buffer.withUnsafeMutableBytes({
                    try System.read(socket, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<min($0.count, remaining)]))
                }) {
                case .completed(0): return (total, Double(System.monotonicNanoseconds() - start) / 1e9)
                case .completed(let count):
                    remaining -= count
                    total += count
                case .wouldBlock:
                    _ = try System.waitReadable(socket, timeoutMilliseconds: 1_000)
                }
            }
        }
        return (total, Double(System.monotonicNanoseconds() - start) / 1e9)
    }
}

// The reactor against real sockets on 127.0.0.1: ordered pipelined responses while
// handlers finish out of order, partial writes of bytes and file regions, bad frames that
// close only their own connection, backpressure, timers, idle timeout and shutdown.

import Foundation
import Glibc
import Synchronization
import SystemCalls
import TestSupport
import Testing

@testable import Reactor

@Suite(.serialized) struct ReactorTests {
    @Test func pipelinedResponsesArriveInOrderAndByteExact() throws {
        try withServer(handler: ScrambledEchoFactory()) { _, address in
            var generator = FastRandom(state: 0xC0FFEE)
            let clients = try (0..<40).map { _ in try TestClient(address) }
            var expected: [[[UInt8]]] = Array(repeating: [], count: clients.count)
            // Every client pipelines all its frames before reading anything.
            for (index, client) in clients.enumerated() {
                var batch: [UInt8] = []
                for _ in 0..<100 {
                    let size = Int.random(in: 0...(Int.random(in: 0..<10, using: &generator) == 0 ? 200_000 : 2_000), using: &generator)
                    let seed = UInt8.random(in: 0...255, using: &generator)
                    let payload = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed }
                    batch += TestClient.frame(payload)
                    expected[index].append(Array(payload.reversed()))
                }
                try client.send(batch)
            }
            for (index, client) in clients.enumerated() {
                for (number, reply) in expected[index].enumerated() {
                    let frame = try client.readFrame()
                    #expect(frame == reply, "client \(index) response \(number)")
                }
            }
        }
    }

    @Test func smallSendBufferForcesPartialWritesOfBytes() throws {
        let size = 3 * 1024 * 1024 + 17
        try withServer(configure: { $0.socketSendBufferBytes = 4_096 }, handler: BulkFactory(responseSize: size)) { _, address in
            let client = try TestClient(address, receiveBufferBytes: 4_096)
            try client.sendFrame([0])
            try client.sendFrame([1])
            let expected = (0..<size).map { UInt8(truncatingIfNeeded: $0 % 251) }
            #expect(try client.readFrame() == expected)
            #expect(try client.readFrame() == expected)
        }
    }

    @Test func fileRegionsGoOutWithSendfileAcrossPartialWrites() throws {
        let file = try System.memoryFile(name: "region-test")
        defer { System.close(file) }
        let content = (0..<(2 * 1024 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try content.withUnsafeBytes { try System.pwrite(file, $0, at: 0) }
        let region = FileRegion(descriptor: file, offset: 1_000, length: content.count - 5_000, owner: nil)
        try withServer(configure: { $0.socketSendBufferBytes = 4_096 }, handler: BulkFactory(responseSize: 0, file: region)) { _, address in
            let client = try TestClient(address, receiveBufferBytes: 4_096)
            for _ in 0..<3 { try client.sendFrame([9]) }
            for _ in 0..<3 {
                let frame = try client.readFrame()
                #expect(frame == [1, 2, 3] + content[1_000..<(content.count - 4_000)] + [4, 5])
            }
        }
    }

    @Test func badFramesCloseOnlyTheirConnection() throws {
        try withServer(configure: { $0.reactor.maximumFrameSize = 1_000_000 }, handler: ScrambledEchoFactory()) { _, address in
            let good = try TestClient(address)
            func roundTrip() throws {
                try good.sendFrame([0, 1, 2])
                #expect(try good.readFrame() == [2, 1, 0])
            }
            try roundTrip()
            let oversized = try TestClient(address)
            try oversized.send([0x7F, 0xFF, 0xFF, 0xFF, 1, 2, 3])
            #expect(try oversized.waitForClose())
            try roundTrip()
            let negative = try TestClient(address)
            try negative.send([0xFF, 0xFF, 0xFF, 0xFE])
            #expect(try negative.waitForClose())
            let justOver = try TestClient(address)
            try justOver.send(withUnsafeBytes(of: Int32(1_000_001).bigEndian) { Array($0) })
            #expect(try justOver.waitForClose())
            try roundTrip()
            // Half a frame, then the client vanishes; garbage; abrupt disconnects mid-stream.
            for _ in 0..<20 {
                let half = try TestClient(address)
                try half.send([0, 0, 1, 0, 1, 2, 3])
                let garbage = try TestClient(address)
                try garbage.send((0..<3).flatMap { _ in [0, 0, 0, 2, 0, 0] })
                _ = try garbage.readFrame()
            }
            try roundTrip()
        }
    }

    @Test func tenThousandConnectionsEachCompleteARoundTrip() throws {
        // The clients run in a child process: with both ends in this one, 10,000
        // connections need 20,000 descriptors, the sandbox's hard limit.
        let limits = try System.openFileLimit()
        try System.setOpenFileLimit(soft: limits.hard, hard: limits.hard)
        let count = 10_000
        let manyClientsScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("many_clients.py").path
        try withServer(configure: { $0.backlog = 4_096 }, handler: ScrambledEchoFactory()) { server, address in
            let clients = Process()
            clients.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            clients.arguments = ["python3", manyClientsScript, address.host, String(address.port), String(count)]
            let output = Pipe()
            let input = Pipe()
            clients.standardOutput = output
            clients.standardInput = input
            try clients.run()
            // While the clients hold their connections open, every one is on some loop.
            let reported = output.fileHandleForReading.readData(ofLength: 9)
            #expect(String(decoding: reported, as: UTF8.self) == "connected")
            let perLoop = server.eventLoops.map { loop in onLoop(loop) { loop.connectionCount } }
            #expect(perLoop.reduce(0, +) == count)
            #expect(perLoop.allSatisfy { $0 > count / 4 }, "connections spread over the loops: \(perLoop)")
            try input.fileHandleForWriting.write(contentsOf: Data("done\n".utf8))
            clients.waitUntilExit()
            let rest = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(clients.terminationStatus == 0, "clients said: \(rest)")
            #expect(rest.contains("round trips: \(count)"))
        }
    }

    @Test func aClientThatNeverReadsIsThrottled() throws {
        let responseSize = 256 * 1024
        try withServer(
            loops: 1,
            configure: {
                $0.reactor.outputHighWaterMark = 2 * 1024 * 1024
                $0.reactor.outputLowWaterMark = 512 * 1024
            }, handler: BulkFactory(responseSize: responseSize)
        ) { server, address in
            let lazy = try TestClient(address, receiveBufferBytes: 4_096)
            // 4,000 requests would queue a gigabyte of responses if nothing pushed back.
            let requests = (0..<4_000).flatMap { _ in TestClient.frame([7]) }
            var sent = 0
            while sent < requests.count {
                let chunk = Array(requests[sent..<min(sent + 8_192, requests.count)])
                let result = try chunk.withUnsafeBytes { try System.write(lazy.descriptor, $0) }
                guard case .completed(let count) = result else { break }  // the server stopped reading
                sent += count
            }
            // The client's writes block once the server stops reading: wait for the queue to
            // settle (unchanged over 20 polls) and check that it stopped near the mark.
            let loop = server.eventLoops[0]
            var last = -1
            var unchanged = 0
            #expect(
                waitUntil {
                    let queued = onLoop(loop) { loop.queuedOutputBytes }
                    unchanged = queued == last ? unchanged + 1 : 0
                    last = queued
                    return unchanged >= 20
                })
            let queued = onLoop(loop) { loop.queuedOutputBytes }
            #expect(queued <= 2 * 1024 * 1024 + 2 * responseSize, "queued \(queued) bytes")
            // Another connection on the same loop is not slowed.
            let other = try TestClient(address)
            try other.sendFrame([1])
            #expect(try other.readFrame()?.count == responseSize)
            // Reading resumes as the lazy client drains: responses keep coming, in order.
            for _ in 0..<40 { #expect(try lazy.readFrame()?.count == responseSize) }
        }
    }

    @Test func manyPauseAndResumeCyclesKeepEveryResponseInOrder() throws {
        // Tiny water marks: a client that sends and reads at once makes the connection pause
        // and resume thousands of times (each resume a turn of a loop, not a deeper call).
        try withServer(
            loops: 1,
            configure: {
                $0.reactor.outputHighWaterMark = 16 * 1024
                $0.reactor.outputLowWaterMark = 4 * 1024
            }, handler: ScrambledEchoFactory()
        ) { _, address in
            let client = try TestClient(address)
            let payloads = (0..<3_000).map { index in (0..<(1_000 + index % 3_000)).map { UInt8(truncatingIfNeeded: $0 &+ index) } }
            let stream = payloads.flatMap { TestClient.frame($0) }
            let descriptor = client.descriptor
            let sender = try OSThread(name: "test-sender") {
                var sent = 0
                while sent < stream.count {
                    let end = min(sent + 65_536, stream.count)
                    let result = try? stream[sent..<end].withUnsafeBytes { try System.write(descriptor, $0) }
                    if case .completed(let count)? = result { sent += count } else { usleep(200) }
                }
            }
            for (index, payload) in payloads.enumerated() {
                #expect(try client.readFrame() == Array(payload.reversed()), "response \(index)")
            }
            sender.join()
        }
    }

    @Test func aPipeliningConnectionTakesTurnsWithTheOthers() throws {
        let recorder = ArrivalRecorder()
        try withServer(loops: 1, configure: { $0.reactor.maximumInFlightRequests = 100_000 }, handler: recorder) { server, address in
            let busy = try TestClient(address)
            let newcomer = try TestClient(address)
            for client in [busy, newcomer] {
                try client.sendFrame([0])
                #expect(try client.readFrame() == [])
            }
            // The loop holds still while both write, so one epoll wait reports both: 2,000
            // requests in one read of the first, then one of the second.
            let (entered, gate) = (ResultBox<Bool>(), ResultBox<Bool>())
            server.eventLoops[0].execute {
                entered.set(true)
                _ = gate.wait()
            }
            _ = entered.wait()
            try busy.send((0..<2_000).flatMap { _ in TestClient.frame([1]) })
            try newcomer.sendFrame([2])
            gate.set(true)
            #expect(try newcomer.readFrame() == [])
            for _ in 0..<2_000 { #expect(try busy.readFrame() == []) }
            // The newcomer's request went in after one turn of the busy connection's, not after
            // all 2,000 of them.
            let order = recorder.order.withLock { Array($0.dropFirst(2)) }
            #expect(order.count == 2_001)
            #expect(order.firstIndex(of: 2).map { $0 <= 16 } == true, "\(order.firstIndex(of: 2) ?? -1)")  // the default turn
        }
    }

    @Test func inFlightLimitStopsReading() throws {
        let holder = HeldRequests()
        try withServer(loops: 1, configure: { $0.reactor.maximumInFlightRequests = 10 }, handler: holder) { _, address in
            let client = try TestClient(address)
            try client.send((0..<50).flatMap { _ in TestClient.frame([1]) })
            #expect(waitUntil { holder.received.load(ordering: .relaxed) >= 10 })
            #expect(holder.received.load(ordering: .relaxed) == 10)
            // Releasing them lets the rest in, batch by batch: each release drops the
            // in-flight count below the low-water mark, and reading resumes up to the limit.
            for expected in stride(from: 20, through: 50, by: 10) {
                holder.releaseAll(with: [2])
                #expect(waitUntil { holder.received.load(ordering: .relaxed) >= expected })
                #expect(holder.received.load(ordering: .relaxed) == expected)
            }
            holder.releaseAll(with: [2])
            for _ in 0..<50 { #expect(try client.readFrame() == [2]) }
        }
    }

    @Test func timersFireInOrderAndTasksRunOnTheirLoop() throws {
        try withServer(loops: 2, handler: ScrambledEchoFactory()) { server, _ in
            let loop = server.eventLoops[1]
            let fired = Mutex<[(Int, UInt64)]>([])
            let start = System.monotonicNanoseconds()
            let done = ResultBox<Bool>()
            loop.execute {
                for delay in [30, 10, 20, 0, 50] {
                    loop.schedule(afterMilliseconds: delay) {
                        fired.withLock { $0.append((delay, System.monotonicNanoseconds() - start)) }
                        if delay == 50 { done.set(true) }
                    }
                }
                let cancelled = loop.schedule(afterMilliseconds: 5) { fired.withLock { $0.append((-1, 0)) } }
                loop.cancelTimer(cancelled)
            }
            _ = done.wait()
            let results = fired.withLock { $0 }
            #expect(results.map(\.0) == [0, 10, 20, 30, 50])
            for (delay, elapsed) in results {
                #expect(elapsed >= UInt64(delay) * 1_000_000, "timer \(delay) fired early")
                #expect(elapsed < UInt64(delay + 40) * 1_000_000, "timer \(delay) fired \(elapsed / 1_000_000) ms late")
            }
            // Tasks posted from other threads run on the loop they were posted to.
            let ranOnLoop = Atomic<Int>(0)
            let finished = ResultBox<Bool>()
            let posters = try (0..<4).map { _ in
                try OSThread(name: "poster") {
                    for _ in 0..<250 {
                        loop.execute {
                            if loop.inEventLoop && !server.eventLoops[0].inEventLoop { ranOnLoop.add(1, ordering: .relaxed) }
                            if ranOnLoop.load(ordering: .relaxed) == 1_000 { finished.set(true) }
                        }
                    }
                }
            }
            for poster in posters { poster.join() }
            _ = finished.wait()
            #expect(ranOnLoop.load(ordering: .relaxed) == 1_000)
        }
    }

    @Test func idleConnectionsAreClosed() throws {
        try withServer(configure: { $0.reactor.idleTimeoutMilliseconds = 200 }, handler: ScrambledEchoFactory()) { _, address in
            let idle = try TestClient(address)
            let busy = try TestClient(address)
            let start = System.monotonicNanoseconds()
            // The busy client keeps talking past the timeout and keeps its connection.
            for _ in 0..<8 {
                try busy.sendFrame([0, 5])
                #expect(try busy.readFrame() == [5, 0])
                usleep(50_000)  // time passing is what this test is about
            }
            #expect(try idle.waitForClose(timeoutMilliseconds: 2_000))
            let idleLifetime = System.monotonicNanoseconds() - start
            #expect(idleLifetime >= 200_000_000 && idleLifetime < 2_000_000_000)
            try busy.sendFrame([0, 6])
            #expect(try busy.readFrame() == [6, 0])
        }
    }

    @Test func gracefulShutdownFinishesInFlightRequestsAndLeaksNothing() throws {
        let descriptorsBefore = System.openDescriptorCount()
        let threadsBefore = try System.directoryEntries("/proc/self/task").count
        let holder = HeldRequests()
        var configuration = ServerConfiguration(listenAddresses: [SocketAddress("127.0.0.1:0")!, SocketAddress("[::1]:0")!])
        configuration.eventLoopCount = 2
        do {
            let server = try Server(configuration: configuration, handlerFactory: holder)
            try server.start()
            let client = try TestClient(server.boundAddresses[0])
            let client6 = try TestClient(server.boundAddresses[1])
            try client.sendFrame([1])
            try client6.sendFrame([2])
            #expect(waitUntil { holder.received.load(ordering: .relaxed) == 2 })
            server.shutdown()
            #expect(waitUntil { (try? TestClient(server.boundAddresses[0])) == nil })
            // New connections are refused once shutdown began...
            #expect(throws: (any Error).self) {
                let late = try TestClient(server.boundAddresses[0])
                try late.sendFrame([3])
                _ = try late.readFrame(timeoutMilliseconds: 500)
            }
            // ...but requests already in flight are answered before the connections close.
            holder.releaseAll(with: [42])
            #expect(try client.readFrame() == [42])
            #expect(try client6.readFrame() == [42])
            #expect(try client.waitForClose())
            server.waitUntilStopped()
        }
        // Other suites run in parallel and open files and threads of their own: wait for
        // the counts to come back rather than sampling once.
        func threadCount() -> Int { (try? System.directoryEntries("/proc/self/task").count) ?? 0 }
        _ = waitUntil(timeoutMilliseconds: 5_000) {
            System.openDescriptorCount() <= descriptorsBefore && threadCount() <= threadsBefore
        }
        #expect(System.openDescriptorCount() <= descriptorsBefore)
        #expect(try System.directoryEntries("/proc/self/task").count <= threadsBefore)
    }

    @Test func eachListenerBringsItsOwnFraming() throws {
        var configuration = ServerConfiguration(listenAddresses: [SocketAddress("127.0.0.1:0")!, SocketAddress("127.0.0.1:0")!])
        configuration.eventLoopCount = 1
        let server = try Server(configuration: configuration, handlerFactories: [ScrambledEchoFactory(), LineEchoFactory()])
        try server.start()
        defer {
            server.shutdown()
            server.waitUntilStopped()
        }
        // Kafka's length prefix on the first listener, lines on the second, on one event loop.
        let kafka = try TestClient(server.boundAddresses[0])
        try kafka.sendFrame([0, 1, 2])
        #expect(try kafka.readFrame() == [2, 1, 0])
        let lines = try TestClient(server.boundAddresses[1])
        try lines.send(Array("abc\nxy\n".utf8))
        #expect(try lines.read(exactly: 7).map { String(decoding: $0, as: UTF8.self) } == "cba\nyx\n")
    }

    @Test func shutdownHonoursCloseAnswersAndLeavesParkedFramesUnhandled() throws {
        let holder = HeldRequests()
        var configuration = ServerConfiguration(listenAddresses: [SocketAddress("127.0.0.1:0")!])
        configuration.eventLoopCount = 1
        configuration.reactor.maximumInFlightRequests = 1
        let server = try Server(configuration: configuration, handlerFactory: holder)
        try server.start()
        // Paused by the in-flight limit, two more frames read and parked behind the first.
        let paused = try TestClient(server.boundAddresses[0])
        try paused.send([1, 2, 3].flatMap { TestClient.frame([$0]) })
        // Its request will be answered with a close while the server drains.
        let closing = try TestClient(server.boundAddresses[0])
        try closing.sendFrame([9])
        #expect(waitUntil { holder.received.load(ordering: .relaxed) == 2 })
        server.shutdown()
        #expect(waitUntil { (try? TestClient(server.boundAddresses[0])) == nil })
        holder.release { frame, responder in
            if frame == [9] { responder.closeConnection() } else { responder.respond([42]) }
        }
        // The paused connection gets the answer in flight, then closes: parked frames are not
        // handed over once shutdown began. The other closes without an answer.
        #expect(try paused.readFrame() == [42])
        #expect(try paused.waitForClose())
        #expect(try closing.waitForClose())
        #expect(holder.received.load(ordering: .relaxed) == 2)
        server.waitUntilStopped()
    }

    @Test func sigtermStartsAGracefulShutdown() throws {
        let holder = HeldRequests()
        var configuration = ServerConfiguration(listenAddresses: [SocketAddress("127.0.0.1:0")!])
        configuration.eventLoopCount = 1
        configuration.handlesSignals = true
        let server = try Server(configuration: configuration, handlerFactory: holder)
        try server.start()
        let client = try TestClient(server.boundAddresses[0])
        try client.sendFrame([1])
        #expect(waitUntil { holder.received.load(ordering: .relaxed) == 1 })
        // Thread-directed, so only the acceptor (which blocks it for its signalfd) sees it.
        try server.signalAcceptor(SIGTERM)
        // The shutdown has begun once the listener refuses connections.
        #expect(waitUntil { (try? TestClient(server.boundAddresses[0])) == nil })
        holder.releaseAll(with: [7])
        #expect(try client.readFrame() == [7])
        #expect(try client.waitForClose())
        server.waitUntilStopped()
    }

    @Test func aRequestFollowedByCloseIsSeenAsClosed() throws {
        let closed = ClosedCounter()
        try withServer(loops: 1, handler: closed) { _, address in
            for _ in 0..<20 {
                let client = try TestClient(address)
                // Data and FIN in one go: the short read must not hide the end of stream.
                try client.send(TestClient.frame([1, 2, 3]))
                try System.shutdownWrite(client.descriptor)
                _ = try client.waitForClose(timeoutMilliseconds: 2_000)
            }
            _ = waitUntil { closed.count.load(ordering: .relaxed) >= 20 }
            #expect(closed.count.load(ordering: .relaxed) == 20)
        }
    }

    @Test func aFrameOfExactlyTheLimitIsAccepted() throws {
        try withServer(configure: { $0.reactor.maximumFrameSize = 300_000 }, handler: ScrambledEchoFactory()) { _, address in
            let client = try TestClient(address)
            let payload = [UInt8](repeating: 3, count: 300_000)
            try client.sendFrame(payload)
            #expect(try client.readFrame() == payload)
        }
    }

    @Test func largeFramesSplitAnywhereArriveWhole() throws {
        try withServer(handler: ScrambledEchoFactory()) { _, address in
            var generator = FastRandom(state: 0xF00D)
            let client = try TestClient(address)
            let payloads: [[UInt8]] = [
                [1, 2, 3], (0..<150_000).map { UInt8(truncatingIfNeeded: $0) }, [], (0..<70_000).map { UInt8(truncatingIfNeeded: $0 * 7) },
                [9],
            ]
            let stream = payloads.flatMap { TestClient.frame($0) }
            // Sent in pieces that cut size prefixes and bodies at arbitrary bytes.
            var position = 0
            while position < stream.count {
                let piece = min(stream.count - position, Int.random(in: 1...9_000, using: &generator))
                try client.send(Array(stream[position..<position + piece]))
                position += piece
                if Int.random(in: 0..<4, using: &generator) == 0 { usleep(500) }
            }
            for payload in payloads { #expect(try client.readFrame() == Array(payload.reversed())) }
        }
    }

    @Test func aTimerCancelledByAnotherDueInTheSameTickDoesNotRun() throws {
        try withServer(loops: 1, handler: ScrambledEchoFactory()) { server, _ in
            let loop = server.eventLoops[0]
            let ran = Mutex<[String]>([])
            let done = ResultBox<Bool>()
            loop.execute {
                var second: UInt64 = 0
                loop.schedule(afterMilliseconds: 5) {
                    ran.withLock { $0.append("first") }
                    loop.cancelTimer(second)
                }
                second = loop.schedule(afterMilliseconds: 5) { ran.withLock { $0.append("second") } }
                loop.schedule(afterMilliseconds: 30) { done.set(true) }
            }
            _ = done.wait()
            #expect(ran.withLock { $0 } == ["first"])
        }
    }

    @Test func aPortInUseFailsCleanly() throws {
        try withServer(handler: ScrambledEchoFactory()) { _, address in
            let before = System.openDescriptorCount()
            #expect(throws: SystemCallError.self) {
                _ = try Server(configuration: ServerConfiguration(listenAddresses: [address]), handlerFactory: ScrambledEchoFactory())
            }
            #expect(System.openDescriptorCount() <= before)
        }
    }

    @Test func connectionIdentityCarriesItsGeneration() {
        let id = ConnectionID(descriptor: 1_234, generation: 99)
        #expect(ConnectionID(epollData: id.epollData) == id)
        #expect(ConnectionID(epollData: ConnectionID(descriptor: 1_234, generation: 100).epollData) != id)
    }
}

/// Cheap deterministic bytes: the system generator makes a syscall per number.
struct FastRandom: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state ^ (state >> 29)
    }
}

// The reactor's socket-free parts: Kafka framing over every split of the byte stream and
// lying sizes, responses leaving in request order whatever order they complete in, and
// the connection state's allowed moves.

import Testing

@testable import Reactor

@Suite struct FrameAssemblerTests {
    /// Feeds `stream` in pieces cut at `cuts` and returns every frame handed out.
    func assemble(
        _ stream: [UInt8], cutAt cuts: [Int], maximumFrameSize: Int = 1 << 20,
        largeFrameThreshold: Int = 16
    ) throws(FramingError) -> [[UInt8]] {
        var assembler = FrameAssembler(maximumFrameSize: maximumFrameSize, largeFrameThreshold: largeFrameThreshold)
        var frames: [[UInt8]] = []
        var start = 0
        for end in cuts + [stream.count] where end >= start {
            let piece = Array(stream[start..<end])
            frames += try feed(&assembler, piece)
            start = end
        }
        #expect(assembler.bufferedBytes == 0, "bytes left over after whole frames")
        return frames
    }

    func feed(_ assembler: inout FrameAssembler, _ bytes: [UInt8]) throws(FramingError) -> [[UInt8]] {
        var frames: [[UInt8]] = []
        try bytes.withUnsafeBytes { raw in Result { () throws(FramingError) in try assembler.append(raw, to: &frames) } }.get()
        return frames
    }

    func frame(_ payload: [UInt8]) -> [UInt8] {
        withUnsafeBytes(of: Int32(payload.count).bigEndian) { Array($0) } + payload
    }

    @Test func everySplitOfTheStreamGivesTheSameFrames() throws {
        // Small, empty and large (past the threshold: its own buffer) frames.
        let payloads: [[UInt8]] = [[1, 2, 3], [], (0..<40).map { UInt8($0) }, [9], (0..<17).map { UInt8($0 &* 3) }]
        let stream = payloads.flatMap(frame)
        for first in 0...stream.count {
            #expect(try assemble(stream, cutAt: [first]) == payloads, "cut at \(first)")
        }
        for first in stride(from: 0, through: stream.count, by: 3) {
            for second in stride(from: first, through: stream.count, by: 5) {
                #expect(try assemble(stream, cutAt: [first, second]) == payloads, "cut at \(first) and \(second)")
            }
        }
        // One byte at a time.
        #expect(try assemble(stream, cutAt: Array(0...stream.count)) == payloads)
    }

    @Test func aFrameLargerThanAReadGetsABufferOfItsOwn() throws {
        var assembler = FrameAssembler(maximumFrameSize: 1 << 20, largeFrameThreshold: 8)
        let payload = (0..<1_000).map { UInt8(truncatingIfNeeded: $0) }
        let stream = frame(payload) + frame([7])
        var frames: [[UInt8]] = []
        for start in stride(from: 0, to: stream.count, by: 100) {
            let piece = Array(stream[start..<min(start + 100, stream.count)])
            frames += try feed(&assembler, piece)
            if frames.isEmpty { #expect(assembler.bufferedBytes == start + piece.count - 4, "the body so far, without its size") }
        }
        #expect(frames == [payload, [7]])
    }

    @Test func lyingSizesAreRefusedBeforeAnythingIsKept() throws {
        for size in [Int32(-1), Int32.min, 1_001, Int32.max] {
            var assembler = FrameAssembler(maximumFrameSize: 1_000)
            let bytes = withUnsafeBytes(of: size.bigEndian) { Array($0) } + [1, 2, 3]
            #expect(throws: FramingError.invalidFrameSize(Int(size))) {
                try feed(&assembler, bytes)
            }
            #expect(assembler.bufferedBytes == 0)
        }
        // A bad size arriving in a later read.
        var assembler = FrameAssembler(maximumFrameSize: 1_000)
        let first = frame([1]) + [0, 0]
        #expect(try feed(&assembler, first) == [[1]])
        let second: [UInt8] = [0x10, 0x00, 5]
        #expect(throws: FramingError.invalidFrameSize(0x1000)) {
            try feed(&assembler, second)
        }
    }

    @Test func framesBeforeABadSizeAreHandedOutWithTheError() throws {
        // A small frame, then a large one finishing in this read, then a lying size: the two
        // whole frames come out (Kafka handles them), then the error.
        var assembler = FrameAssembler(maximumFrameSize: 1_000, largeFrameThreshold: 8)
        let large = (0..<50).map { UInt8($0) }
        let opening = frame(large)
        #expect(try feed(&assembler, Array(opening.prefix(20))).isEmpty)
        var frames: [[UInt8]] = []
        let rest = Array(opening.dropFirst(20)) + frame([7]) + [0x7F, 0xFF, 0xFF, 0xFF]
        let outcome = rest.withUnsafeBytes { raw in Result { () throws(FramingError) in try assembler.append(raw, to: &frames) } }
        #expect(frames == [large, [7]])
        #expect(throws: FramingError.invalidFrameSize(Int(Int32.max))) { try outcome.get() }
    }

    @Test func theLargeFrameBufferStartsJustPastTheThreshold() throws {
        for (size, ownBuffer) in [(16, false), (17, true)] {
            var assembler = FrameAssembler(maximumFrameSize: 1_000, largeFrameThreshold: 16)
            let payload = [UInt8](repeating: 9, count: size)
            let stream = frame(payload)
            #expect(try feed(&assembler, Array(stream.prefix(10))).isEmpty)
            // Small frames keep their size prefix in `pending`; a large one keeps only its body.
            #expect(assembler.bufferedBytes == (ownBuffer ? 6 : 10), "size \(size)")
            #expect(try feed(&assembler, Array(stream.dropFirst(10))) == [payload])
        }
    }

    @Test func aLargeFrameWaitsForPoolMemoryWithoutKeepingMoreThanItsFirstRead() throws {
        let pool = RequestMemoryPool(capacity: 100)
        var first = FrameAssembler(maximumFrameSize: 1 << 20, largeFrameThreshold: 16, memory: pool)
        var second = FrameAssembler(maximumFrameSize: 1 << 20, largeFrameThreshold: 16, memory: pool)
        let big = frame([UInt8](repeating: 7, count: 120))
        // The first large frame is granted (the pool may be overdrawn by its last grant)...
        #expect(try feed(&first, Array(big[0..<30])).isEmpty)
        #expect(!first.isAwaitingMemory && pool.availableBytes == -20)
        // ...the second waits, holding just the bytes it has read.
        #expect(try feed(&second, Array(big[0..<30])).isEmpty)
        #expect(second.isAwaitingMemory && second.bufferedBytes == 30)
        let grantedEarly = second.retryReservation()
        #expect(!grantedEarly)
        // The first frame completes; its taker gives its memory back; the second goes on.
        let frames = try feed(&first, Array(big[30...]))
        #expect(frames == [Array(big[4...])])
        pool.release(frames[0].count)
        let granted = second.retryReservation()
        #expect(granted && !second.isAwaitingMemory)
        #expect(try feed(&second, Array(big[30...])) == [Array(big[4...])])
        #expect(pool.availableBytes == -20)
        // A connection closing mid-frame gives back what its frame held.
        pool.release(120)
        #expect(try feed(&first, Array(big[0..<50])).isEmpty)
        #expect(pool.availableBytes == -20)
        first.abandon()
        #expect(pool.availableBytes == 100)
    }

    @Test func aFrameOfExactlyTheLimitPasses() throws {
        let payload = [UInt8](repeating: 4, count: 100)
        #expect(try assemble(frame(payload), cutAt: [50], maximumFrameSize: 100) == [payload])
    }

    @Test func responsesGetTheirSizeAndAnImpossibleSizeIsRefused() throws {
        let assembler = FrameAssembler(maximumFrameSize: 100)
        #expect(try assembler.responsePrefix(size: 258) == [0, 0, 1, 2])
        #expect(throws: FramingError.responseTooLarge(Int(Int32.max) + 1)) { try assembler.responsePrefix(size: Int(Int32.max) + 1) }
    }
}

@Suite struct ResponseSequencerTests {
    @Test func completionsInAnyOrderLeaveInRequestOrder() throws {
        var generator = FastRandom(state: 0x5EC0_E5CE)
        for _ in 0..<200 {
            var sequencer = ResponseSequencer<Int>()
            let count = Int.random(in: 1...40, using: &generator)
            let numbers = (0..<count).map { _ in sequencer.register() }
            #expect(numbers == (0..<UInt64(count)).map { $0 })
            var sent: [Int] = []
            for sequence in numbers.shuffled(using: &generator) {
                try sequencer.complete(sequence, with: Int(sequence))
                while let next = sequencer.nextReady() { sent.append(next) }
                // Nothing leaves past a request still being handled.
                #expect(sent == Array(0..<sent.count))
            }
            #expect(sent == Array(0..<count))
            #expect(sequencer.inFlight == 0)
        }
    }

    @Test func aLaterCompletionWaitsForTheEarlierOne() throws {
        var sequencer = ResponseSequencer<String>()
        let first = sequencer.register()
        let second = sequencer.register()
        try sequencer.complete(second, with: "second")
        #expect(sequencer.nextReady() == nil)
        #expect(sequencer.inFlight == 2)
        try sequencer.complete(first, with: "first")
        #expect(sequencer.nextReady() == "first")
        #expect(sequencer.nextReady() == "second")
        #expect(sequencer.nextReady() == nil)
        #expect(sequencer.inFlight == 0)
    }

    @Test func doubleAndUnknownCompletionsAreRefused() throws {
        var sequencer = ResponseSequencer<Int>()
        let first = sequencer.register()
        let second = sequencer.register()
        try sequencer.complete(second, with: 2)
        #expect(throws: ResponseSequencer<Int>.Refusal.answeredTwice(second)) { try sequencer.complete(second, with: 2) }
        #expect(throws: ResponseSequencer<Int>.Refusal.notInFlight(7)) { try sequencer.complete(7, with: 7) }
        try sequencer.complete(first, with: 1)
        #expect(throws: ResponseSequencer<Int>.Refusal.answeredTwice(first)) { try sequencer.complete(first, with: 1) }
        #expect(sequencer.nextReady() == 1)
        #expect(sequencer.nextReady() == 2)
        // Already sent: no longer in flight.
        #expect(throws: ResponseSequencer<Int>.Refusal.notInFlight(first)) { try sequencer.complete(first, with: 1) }
    }
}

@Suite struct ConnectionStateTests {
    static let all: [ConnectionState] = [.open, .readingPaused, .draining, .closingAfterFlush, .closed]

    @Test func onlyTheLifecycleMovesAreAllowed() {
        let allowed: Set<String> = [
            "open>readingPaused", "readingPaused>open",
            "open>draining", "readingPaused>draining",
            "open>closingAfterFlush", "readingPaused>closingAfterFlush", "draining>closingAfterFlush",
            "open>closed", "readingPaused>closed", "draining>closed", "closingAfterFlush>closed",
        ]
        for from in Self.all {
            for to in Self.all {
                #expect(from.canMove(to: to) == allowed.contains("\(from)>\(to)"), "\(from) -> \(to)")
            }
        }
    }

    @Test func onlyAnOpenConnectionReadsAndOnlyAPausedOneStillTakesRequests() {
        #expect(Self.all.filter(\.isReading) == [.open])
        #expect(Self.all.filter(\.acceptsRequests) == [.open, .readingPaused])
    }
}

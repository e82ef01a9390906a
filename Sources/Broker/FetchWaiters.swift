// Parked Fetch requests, by partition: an append wakes the fetches waiting on its
// partition (on their own event loops) instead of letting them sleep until max_wait_ms.

import KafkaWire
import LogStorage
import Reactor
import Synchronization

final class FetchWaiters: Sendable {
    struct Waiter: Sendable {
        let id: UInt64
        let loop: EventLoop
        let wake: @Sendable () -> Void
    }

    private let state = Mutex<(next: UInt64, byPartition: [TopicPartition: [Waiter]])>((1, [:]))

    /// Where a fetch of no partition (an incremental fetch with nothing in its session) waits:
    /// no append wakes it, but a shutdown must find it.
    private static let noPartition = TopicPartition(topic: "", partition: -1)

    private static func keys(_ partitions: [TopicPartition]) -> [TopicPartition] {
        partitions.isEmpty ? [noPartition] : partitions
    }

    /// Registers `wake` for each partition; returns an id to cancel with.
    func park(on partitions: [TopicPartition], loop: EventLoop, wake: @escaping @Sendable () -> Void) -> UInt64 {
        state.withLock { state in
            let id = state.next
            state.next += 1
            for partition in Self.keys(partitions) {
                state.byPartition[partition, default: []].append(Waiter(id: id, loop: loop, wake: wake))
            }
            return id
        }
    }

    func cancel(_ id: UInt64, partitions: [TopicPartition]) {
        state.withLock { state in
            for partition in Self.keys(partitions) {
                state.byPartition[partition]?.removeAll { $0.id == id }
                if state.byPartition[partition]?.isEmpty == true { state.byPartition[partition] = nil }
            }
        }
    }

    /// Wakes every parked fetch (shutdown), each on its own loop.
    func wakeAll() {
        let waiters = state.withLock { state in
            defer { state.byPartition = [:] }
            return state.byPartition.values.joined()
        }
        // A fetch parked on several partitions is woken once.
        var woken: Set<UInt64> = []
        for waiter in waiters where woken.insert(waiter.id).inserted { waiter.loop.execute(waiter.wake) }
    }

    /// Wakes everything parked on `partition`, each on its own loop.
    func wake(_ partition: TopicPartition) {
        let waiters = state.withLock { $0.byPartition.removeValue(forKey: partition) } ?? []
        for waiter in waiters { waiter.loop.execute(waiter.wake) }
    }
}

// Lines about what clients send (malformed requests, versions not served) are limited per
// kind, so that a client sending garbage in a loop cannot fill the disk with the broker's
// log: a few lines per window, then a count of those held back with the next line written.

import Synchronization

final class LogRateLimiter: Sendable {
    let linesPerWindow: Int
    let windowMilliseconds: Int64
    private let clock: @Sendable () -> Int64

    private struct Window {
        var start: Int64
        var written = 0
        var heldBack = 0
    }

    // The kinds are a few fixed names, so the table stays small.
    private let windows = Mutex<[String: Window]>([:])

    init(linesPerWindow: Int = 10, windowMilliseconds: Int64 = 10_000, clock: @escaping @Sendable () -> Int64) {
        self.linesPerWindow = linesPerWindow
        self.windowMilliseconds = windowMilliseconds
        self.clock = clock
    }

    /// The line to write for `message` now, or nil when it is held back (only counted).
    func admit(_ kind: String, _ message: String) -> String? {
        let now = clock()
        return windows.withLock { windows in
            var window = windows[kind] ?? Window(start: now)
            if now - window.start >= windowMilliseconds {
                window = Window(start: now, heldBack: window.heldBack)
            }
            guard window.written < linesPerWindow else {
                window.heldBack += 1
                windows[kind] = window
                return nil
            }
            window.written += 1
            let line = window.heldBack > 0 ? "\(message) (and \(window.heldBack) more \(kind) line(s) not logged)" : message
            window.heldBack = 0
            windows[kind] = window
            return line
        }
    }
}

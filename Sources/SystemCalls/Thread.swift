// An OS thread running a closure, named for `top -H` and debuggers, and joinable so
// shutdown can prove no thread outlives the server.

import CSystemShims
import Glibc

public final class OSThread: @unchecked Sendable {
    // Written once by the creating thread before anyone can read it.
    private var handle = pthread_t()
    public let name: String

    private final class Box {
        let body: () -> Void
        let name: String
        init(body: @escaping () -> Void, name: String) {
            self.body = body
            self.name = name
        }
    }

    public init(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemCallError) {
        self.name = name
        let box = Unmanaged.passRetained(Box(body: body, name: name))
        let result = pthread_create(
            &handle, nil,
            { argument in
                let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
                // Linux limits thread names to 15 bytes.
                _ = swiftlet_set_thread_name(String(box.name.prefix(15)))
                box.body()
                return nil
            }, box.toOpaque())
        if result != 0 {
            box.release()
            throw SystemCallError(call: "pthread_create", errno: result)
        }
    }

    // Guarded by `joinLock`: pthread_join twice is undefined behaviour.
    private let joinLock = Lock()
    private var joined = false

    /// Waits for the thread to end; later calls return at once.
    public func join() {
        joinLock.lock()
        defer { joinLock.unlock() }
        if joined { return }
        joined = true
        _ = pthread_join(handle, nil)
    }

    /// Lets the thread end on its own; `join` then does nothing.
    public func detach() {
        joinLock.lock()
        defer { joinLock.unlock() }
        if joined { return }
        joined = true
        _ = pthread_detach(handle)
    }

    /// Sends `signal` to this thread alone (pthread_kill).
    public func send(signal: Int32) throws(SystemCallError) {
        let result = pthread_kill(handle, signal)
        if result != 0 { throw SystemCallError(call: "pthread_kill", errno: result) }
    }
}

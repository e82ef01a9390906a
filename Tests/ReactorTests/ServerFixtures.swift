// Server fixtures for the reactor tests (the socket client is TestSupport's TestClient).

import Glibc
import Reactor
import SystemCalls
import TestSupport

/// Starts a server on an ephemeral 127.0.0.1 port and always shuts it down.
func withServer<Result>(
    loops: Int = 2,
    configure: (inout ServerConfiguration) -> Void = { _ in },
    handler: any ConnectionHandlerFactory,
    _ body: (Server, SocketAddress) throws -> Result
) throws -> Result {
    var configuration = ServerConfiguration(listenAddresses: [SocketAddress("127.0.0.1:0")!])
    configuration.eventLoopCount = loops
    configure(&configuration)
    let server = try Server(configuration: configuration, handlerFactory: handler)
    try server.start()
    defer {
        server.shutdown()
        server.waitUntilStopped()
    }
    return try body(server, server.boundAddresses[0])
}

/// Runs `body` on `loop` and waits for its result.
func onLoop<Value: Sendable>(_ loop: EventLoop, _ body: @escaping @Sendable () -> Value) -> Value {
    let box = ResultBox<Value>()
    loop.execute { box.set(body()) }
    return box.wait()
}

final class ResultBox<Value: Sendable>: @unchecked Sendable {
    // Guarded by `condition`.
    private var value: Value?
    private var condition = pthread_cond_t()
    private var mutex = pthread_mutex_t()

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
    }

    func set(_ newValue: Value) {
        pthread_mutex_lock(&mutex)
        value = newValue
        pthread_cond_broadcast(&condition)
        pthread_mutex_unlock(&mutex)
    }

    func wait() -> Value {
        pthread_mutex_lock(&mutex)
        while value == nil { pthread_cond_wait(&condition, &mutex) }
        let result = value!
        pthread_mutex_unlock(&mutex)
        return result
    }
}

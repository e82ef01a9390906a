// A scratch directory under /tmp for tests that need real files, removed with its
// contents when the value goes away.

import Glibc
import SystemCalls

public final class TemporaryDirectory {
    public let path: String

    public init() {
        path = "/tmp/swiftlet-test-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        try! System.makeDirectory(path)
    }

    deinit { _ = try? removeTree(path) }

    private func removeTree(_ path: String) throws {
        for name in (try? System.directoryEntries(path)) ?? [] {
            let child = path + "/" + name
            if (try? System.directoryEntries(child)) != nil { try removeTree(child) } else { try System.unlink(child) }
        }
        try System.removeDirectory(path)
    }
}

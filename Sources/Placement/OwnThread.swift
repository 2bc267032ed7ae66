import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// CPU-bound work on a thread of its own, never on Swift's cooperative pool: the pool has one
/// thread per core (two on a small machine), and seconds of CPU there stall every other task
/// of the process (heartbeats, LISTEN, signal handling, the workers of other tests).
///
/// The thread also runs at a lower priority (nice 10 on Linux, utility elsewhere): on a busy
/// machine the scheduler then runs the process's own short tasks (a heartbeat, a wake-up) and
/// the database server first, and an idle machine still gives the work every spare cycle.
public enum OwnThread {
    public static func run<T: Sendable>(_ name: String, _ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                #if os(Linux)
                // Linux keeps the nice value per thread, and `who == 0` is the calling thread.
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
                #endif
                continuation.resume(with: Result { try work() })
            }
            thread.name = name
            thread.qualityOfService = .utility
            thread.stackSize = 16 << 20
            thread.start()
        }
    }
}

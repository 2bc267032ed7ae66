#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ServiceLifecycle
import Synchronization

/// SIGTERM and SIGINT, caught from the daemon's first instruction: left to their default
/// action until the service group starts, a stop asked for during the start (arguments, logging,
/// the first connect) would kill the process (exit 143) instead of ending it as asked.
enum StopSignals {
    /// The last stop signal received, 0 for none. Written by the signal handler (an atomic
    /// store is async-signal-safe), read by `StopSignalWatcher`.
    static let received = Atomic<Int32>(0)

    /// Installs the handlers; the first statement of `main`.
    static func install() {
        received.store(0, ordering: .relaxed)  // initialised here, never first in a handler
        for stop in [SIGTERM, SIGINT] {
            _ = signal(stop) { number in StopSignals.received.store(number, ordering: .relaxed) }
        }
    }
}

/// Ends the service group gracefully once a stop signal came, however early it came; and ends
/// itself when the group shuts down for another reason (`--drain` done, a fatal error).
struct StopSignalWatcher: Service {
    func run() async throws {
        while StopSignals.received.load(ordering: .relaxed) == 0 {
            if Task.isShuttingDownGracefully || Task.isCancelled { return }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }
}

import Synchronization

/// The jobs a worker runs right now, against its concurrency limit.
final class WorkerSlots: Sendable {
    let concurrency: Int
    /// The claim loop waits until at least this many slots are free before claiming again
    /// (unless nothing runs), so that claims come in batches rather than one by one.
    let claimThreshold: Int

    private let running = Mutex(Set<Int64>())
    /// The claim loop's wake-up: signalled when enough slots came free to claim again.
    private let wake: Wakeup
    /// Signalled when the last running job finished.
    private let idle = Wakeup()

    init(concurrency: Int, wake: Wakeup) {
        self.concurrency = concurrency
        self.wake = wake
        self.claimThreshold = max(1, concurrency / 4)
    }

    var free: Int { running.withLock { concurrency - $0.count } }
    var runningCount: Int { running.withLock { $0.count } }
    var runningIDs: [Int64] { running.withLock { Array($0) } }

    func start(_ id: Int64) {
        running.withLock { _ = $0.insert(id) }
    }

    func finish(_ id: Int64) {
        let (enoughFree, none) = running.withLock { running -> (Bool, Bool) in
            running.remove(id)
            return (concurrency - running.count == claimThreshold, running.isEmpty)
        }
        if enoughFree || none { wake.signal() }
        if none { idle.signal() }
    }

    /// Waits until no job runs, up to `timeout`. True if none runs.
    func waitUntilIdle(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while runningCount > 0 {
            let remaining = deadline - .now
            if remaining <= .zero || Task.isCancelled { return false }
            await idle.wait(timeout: remaining)
        }
        return true
    }
}

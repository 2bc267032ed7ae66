import Synchronization

/// Jobs claimed ahead of free slots (`JobWorkerConfiguration.prefetch`): they wait here, their
/// leases extended by the heartbeat like running jobs, until a slot frees. So a slot that
/// frees starts its next job at once instead of waiting for a claim's round trip, and one claim
/// fetches many jobs whatever `concurrency` is.
///
/// A job does not wait here longer than `hold`: it goes back to the queue for another worker
/// (the claim loop hands it back, and claims nothing ahead for as long), so long jobs in every
/// slot never sit on a backlog.
final class PrefetchBuffer: Sendable {
    let hold: Duration

    private let waiting = Mutex<[(job: ClaimedJob, claimedAt: ContinuousClock.Instant)]>([])

    init(hold: Duration) {
        self.hold = hold
    }

    var count: Int { waiting.withLock { $0.count } }
    var ids: [Int64] { waiting.withLock { $0.map(\.job.id) } }

    /// Adds claimed jobs, keeping claim order (priority, run_at, id).
    func add(_ jobs: [ClaimedJob]) {
        let now = ContinuousClock.now
        waiting.withLock { waiting in
            waiting += jobs.map { ($0, now) }
            waiting.sort { ClaimedJob.claimOrder($0.job, $1.job) }
        }
    }

    /// Takes up to `limit` jobs to start, first in claim order.
    func take(_ limit: Int) -> [ClaimedJob] {
        guard limit > 0 else { return [] }
        return waiting.withLock { waiting in
            let taken = waiting.prefix(limit).map(\.job)
            waiting.removeFirst(taken.count)
            return taken
        }
    }

    /// Takes the waiting jobs of `ids` out: no longer this worker's (cancelled by an operator,
    /// or rescued by another worker), they must not start here.
    func drop(_ ids: Set<Int64>) -> [ClaimedJob] {
        guard !ids.isEmpty else { return [] }
        return waiting.withLock { waiting in
            let dropped = waiting.filter { ids.contains($0.job.id) }.map(\.job)
            waiting.removeAll { ids.contains($0.job.id) }
            return dropped
        }
    }

    /// Takes the jobs that waited longer than `hold`, to be handed back.
    func takeExpired() -> [ClaimedJob] {
        let limit = ContinuousClock.now - hold
        return waiting.withLock { waiting in
            // Called on every turn of the claim loop: no copy when nothing expired (the usual case).
            guard waiting.contains(where: { $0.claimedAt < limit }) else { return [] }
            let expired = waiting.filter { $0.claimedAt < limit }.map(\.job)
            if !expired.isEmpty { waiting.removeAll { $0.claimedAt < limit } }
            return expired
        }
    }
}

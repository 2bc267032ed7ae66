import Logging
import Postgres

/// The worker's housekeeping, on a connection of its own:
/// - heartbeat: extends the lease of every job this worker runs, every lease/3, and stops the
///   handlers of jobs it no longer holds;
/// - rescue: jobs whose lease expired (their worker died: SIGKILL, out of memory, a lost
///   host) go back to retryable, or to discarded when that was their last attempt — any live
///   worker does this for all;
/// - retention: deletes finished jobs older than the retention period.
///
/// A job whose worker is alive is never rescued: its lease keeps being extended. A worker
/// that cannot reach the database for longer than a lease loses its jobs to the others, and
/// its own completions of them then change nothing (they check the lease).
struct LeaseKeeper: Sendable {
    let database: ReconnectingConnection
    let owner: String
    let configuration: JobWorkerConfiguration
    /// The jobs whose handlers run (stopped when their job is no longer ours) ...
    let slots: WorkerSlots
    /// ... and those claimed ahead, waiting for a slot ...
    let prefetched: PrefetchBuffer
    /// ... and those whose outcomes wait to be written: only these leases are extended.
    let completions: CompletionBatcher
    let logger: Logger

    func run() async {
        let clock = ContinuousClock()
        let heartbeatEvery = configuration.leaseDuration / 3
        let rescueEvery = configuration.rescueInterval
        var nextHeartbeat = clock.now  // at start: report this worker's presence
        var nextRescue = clock.now  // at start: pick up what crashed workers left behind
        var nextPrune = clock.now + .seconds(5)
        while !Task.isCancelled {
            let now = clock.now
            do {
                if now >= nextHeartbeat {
                    // A failed heartbeat is tried again in a second, not a third of a lease later.
                    nextHeartbeat = now + .seconds(1)
                    try await heartbeat()
                    nextHeartbeat = now + heartbeatEvery
                }
                if now >= nextRescue {
                    nextRescue = now + rescueEvery
                    try await rescue()
                }
                if let retention = configuration.retention, now >= nextPrune {
                    nextPrune = now + configuration.pruneInterval
                    try await prune(olderThan: retention)
                }
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                logger.error("lease keeping failed; trying again", metadata: ["error": "\(error)"])
            }
            let next = min(nextHeartbeat, nextRescue, configuration.retention == nil ? nextHeartbeat : nextPrune)
            let pause = max(next - clock.now, .milliseconds(10))
            try? await Task.sleep(for: pause)
        }
    }

    /// Extends the leases of the jobs this worker holds, and stops the handler of every job it
    /// runs that is no longer its own: cancelled by an operator, or rescued by another worker
    /// after this one could not heartbeat in time. So a handler runs at most one heartbeat
    /// after its job was taken away.
    func heartbeat() async throws {
        // The buffer before the slots before the batcher: a job moves along them.
        let waiting = prefetched.ids
        let running = slots.runningSnapshot
        let ids = waiting + running.map(\.id) + completions.pendingIDs
        let (owner, lease) = (owner, configuration.leaseDuration)
        let rows = try await database.run { connection -> [(id: Int64, held: Bool, cancelled: Bool, extended: Bool)] in
            guard !ids.isEmpty else { return [] }
            return try await connection.query(JobStatements.heartbeat(owner: owner, lease: lease, ids: ids)).map { row in
                (try row.decode("id", as: Int64.self), try row.decode("held", as: Bool.self),
                 try row.decode("cancelled", as: Bool.self), try row.decode("extended", as: Bool.self))
            }
        }
        let held = Set(rows.filter(\.held).map(\.id))
        let cancelled = Set(rows.filter(\.cancelled).map(\.id))
        let extended = rows.filter(\.extended).count
        var stopped = 0
        for job in running where !held.contains(job.id) {
            // Only the start this heartbeat saw: the job may since have finished, or been
            // handed back and claimed again.
            if slots.interrupt(job.id, .lost(cancelledByOperator: cancelled.contains(job.id)), token: job.token) { stopped += 1 }
        }
        logger.trace("extended leases", metadata: ["jobs.count": "\(extended)", "jobs.held": "\(held.count)"])
        if stopped > 0 {
            logger.warning("stopping the handlers of jobs this worker no longer holds (cancelled by an operator, or rescued by another worker)", metadata: ["jobs.count": "\(stopped)"])
        }
        await reportPresence(running: running.count)
    }

    /// The daemon is alive, for `reception jobs health`, whether it runs jobs or not. Best
    /// effort, after the leases: a failure here must never cost a lease.
    private func reportPresence(running: Int) async {
        let presence = JobStatements.reportPresence(owner: owner, queues: configuration.queues, concurrency: configuration.concurrency,
                                                    lease: configuration.leaseDuration, running: running)
        do {
            try await database.run { connection in _ = try await connection.execute(presence) }
        } catch {
            if !Task.isCancelled {
                logger.warning("could not report this daemon's presence (reception jobs health will miss it)", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Rescues every job whose lease expired; returns how many.
    @discardableResult
    func rescue() async throws -> Int {
        var total = 0
        while true {
            let policy = configuration.retryPolicy
            let rows = try await database.run { connection in
                try await connection.query(JobStatements.rescue(policy: policy, limit: 1000))
            }
            for row in rows {
                let state = try row.decode("state", as: JobState.self)
                let metadata: Logger.Metadata = [
                    "job.id": "\(try row.decode("id", as: Int64.self))",
                    "job.kind": "\(try row.decode("kind", as: String.self))",
                    "job.queue": "\(try row.decode("queue", as: String.self))",
                    "job.attempt": "\(try row.decode("attempt", as: Int.self))",
                    "job.lost_worker": "\(try row.decode("lease_owner", as: String?.self) ?? "")",
                ]
                if state == .discarded {
                    logger.error("job discarded: its worker was lost during its last attempt", metadata: metadata)
                } else {
                    logger.warning("rescued a job whose worker was lost (lease expired); it will run again", metadata: metadata)
                }
            }
            total += rows.count
            if rows.count < 1000 { return total }
        }
    }

    /// Deletes finished jobs older than `age`, in batches; returns how many.
    @discardableResult
    func prune(olderThan age: Duration) async throws -> Int {
        var total = 0
        while !Task.isCancelled {
            let deleted = try await database.run { connection in
                try await connection.execute(JobStatements.prune(olderThan: age, limit: 10_000))
            }
            total += deleted
            if deleted < 10_000 { break }
        }
        if total > 0 { logger.info("pruned finished jobs", metadata: ["jobs.count": "\(total)", "jobs.older_than": "\(DurationText.format(age))"]) }
        _ = try await database.run { connection in try await connection.execute(JobStatements.prunePresence) }
        return total
    }
}

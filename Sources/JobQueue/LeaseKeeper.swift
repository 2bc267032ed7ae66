import Logging
import Postgres

/// The worker's heartbeat, on a connection of its own that nothing else uses: extends the
/// lease of every job this worker holds, every lease/3, stops the handlers of jobs it no
/// longer holds, and reports the daemon's presence. (Rescue and retention are the elected
/// daemon's: `Maintainer`.)
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
        while !Task.isCancelled {
            let tick = clock.now
            var next = tick + heartbeatEvery
            do {
                try await heartbeat()
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                logger.error("heartbeat failed; trying again", metadata: ["error": "\(error)"])
                // Tried again in a second, not a third of a lease later.
                next = min(next, tick + .seconds(1))
            }
            try? await Task.sleep(until: next, clock: clock)
        }
    }

    /// Extends the leases of the jobs this worker holds, and stops the handler of every job it
    /// runs that is no longer its own — cancelled by an operator, or rescued by another worker
    /// after this one could not heartbeat in time — or that an operator asked to cancel while
    /// its row was locked. So a handler runs at most one heartbeat after its job was taken away.
    func heartbeat() async throws {
        // The buffer before the slots before the batcher: a job moves along them.
        let waiting = prefetched.ids
        let running = slots.runningSnapshot
        let ids = waiting + running.map(\.id) + completions.pendingIDs
        let (owner, lease) = (owner, configuration.leaseDuration)
        let rows = try await database.run { connection -> [(id: Int64, held: Bool, cancelled: Bool, cancelRequested: Bool, extended: Bool)] in
            guard !ids.isEmpty else { return [] }
            return try await connection.query(JobStatements.heartbeat(owner: owner, lease: lease, ids: ids)).map { row in
                (try row.decode("id", as: Int64.self), try row.decode("held", as: Bool.self),
                 try row.decode("cancelled", as: Bool.self), try row.decode("cancel_requested", as: Bool.self),
                 try row.decode("extended", as: Bool.self))
            }
        }
        let held = Set(rows.filter(\.held).map(\.id))
        let cancelled = Set(rows.filter(\.cancelled).map(\.id))
        let cancelRequested = Set(rows.filter { $0.held && $0.cancelRequested }.map(\.id))
        let extended = rows.filter(\.extended).map(\.id)
        // A job claimed ahead that is no longer this worker's never starts here. It is handed
        // back all the same: that changes nothing for a job cancelled or running elsewhere
        // (a hand-back needs this worker's lease), and returns one this worker claimed again
        // while the heartbeat was under way to the queue, rather than leave it leased to nobody.
        let dropped = prefetched.drop(Set(waiting).subtracting(held))
        for job in dropped { completions.add(job, .handedBack(counted: false)) }
        // One claimed ahead that an operator asked to cancel ends cancelled without starting.
        let refused = prefetched.drop(Set(waiting).intersection(cancelRequested))
        for job in refused { completions.add(job, .finished(.cancelled, message: Interruption.cancelRequestedMessage)) }
        var stopped = 0
        for job in running where !held.contains(job.id) || cancelRequested.contains(job.id) {
            // Only the start this heartbeat saw: the job may since have finished, or been
            // handed back and claimed again.
            let reason: Interruption = held.contains(job.id) ? .cancelRequested : .lost(cancelledByOperator: cancelled.contains(job.id))
            if slots.interrupt(job.id, reason, token: job.token) { stopped += 1 }
        }
        // Which leases: job ids (the first 100), never arguments.
        logger.debug("extended leases", metadata: [
            "jobs.count": "\(extended.count)", "jobs.held": "\(held.count)",
            "jobs.ids": "\(extended.prefix(100).map(String.init).joined(separator: ","))\(extended.count > 100 ? ",…" : "")",
        ])
        if stopped > 0 {
            logger.warning("stopping the handlers of jobs this worker no longer holds or an operator cancelled (or asked to cancel), or that another worker rescued", metadata: ["jobs.count": "\(stopped)"])
        }
        if !dropped.isEmpty || !refused.isEmpty {
            logger.info("not starting jobs claimed ahead that an operator cancelled (or asked to cancel) or another worker rescued", metadata: ["jobs.count": "\(dropped.count + refused.count)"])
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
                logger.warning("could not report this daemon's presence (a health check will miss it)", metadata: ["error": "\(error)"])
            }
        }
    }
}

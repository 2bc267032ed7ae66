import Logging
import Postgres
import Synchronization

/// Writes how jobs ended, in batches: all outcomes gathered since the last write go in one
/// UPDATE per kind of outcome (one commit for many jobs), so that jobs which write nothing of their own do not
/// pay a commit each. Batches form by themselves: while one write is in flight the next
/// gathers, so a lone job is written at once and a surge in large batches.
///
/// Until its outcome is written a job stays `running` under this worker's lease (and the
/// lease keeper extends it), so nothing is lost if the worker dies meanwhile: the job is
/// rescued and runs again. Each write checks the lease, so it can never apply twice.
final class CompletionBatcher: Sendable {
    private let database: ReconnectingConnection
    private let owner: String
    private let logger: Logger

    private struct Pending {
        var successes: [Int64] = []
        var others: [(job: ClaimedJob, outcome: JobOutcome)] = []
        /// The batch taken but not yet written.
        var writing: [Int64] = []
        var count: Int { successes.count + others.count + writing.count }
    }
    private let pending = Mutex(Pending())
    private let arrived = Wakeup()
    /// Signalled after each write (the claim loop's wake-up: it waits while the backlog is large).
    private let written: Wakeup

    /// A write that fails for another reason than a lost connection (which is retried for as
    /// long as it lasts) is tried this many times; then its jobs are left to expire.
    static let writeTries = 3

    init(database: ReconnectingConnection, owner: String, logger: Logger, written: Wakeup) {
        self.database = database
        self.written = written
        self.owner = owner
        self.logger = logger
    }

    /// Outcomes not yet written.
    var backlog: Int { pending.withLock { $0.count } }

    /// The jobs whose outcomes are not yet written (they are still running in the database).
    var pendingIDs: [Int64] {
        pending.withLock { $0.successes + $0.others.map(\.job.id) + $0.writing }
    }

    func add(_ job: ClaimedJob, _ outcome: JobOutcome) {
        switch outcome {
        case .none: return
        case .succeeded: pending.withLock { $0.successes.append(job.id) }
        default: pending.withLock { $0.others.append((job, outcome)) }
        }
        arrived.signal()
    }

    /// Writes outcomes as they come, until cancelled.
    func run() async {
        while !Task.isCancelled {
            await arrived.wait(timeout: nil)
            await writeAll()
        }
    }

    /// Writes everything pending now.
    private func writeAll() async {
        while true {
            let batch = pending.withLock { pending -> Pending in
                let batch = Pending(successes: pending.successes, others: pending.others)
                pending.writing = batch.successes + batch.others.map(\.job.id)
                pending.successes.removeAll(keepingCapacity: true)
                pending.others.removeAll(keepingCapacity: true)
                return batch
            }
            if batch.successes.isEmpty && batch.others.isEmpty { return }
            var tries = 0
            while true {
                tries += 1
                do {
                    try await write(batch)
                    break
                } catch is CancellationError {
                    // Shutting down with the database away: leave them; their leases expire and
                    // the jobs are rescued.
                    pending.withLock { $0.writing = [] }
                    return
                } catch {
                    if tries < Self.writeTries && !Task.isCancelled {
                        logger.warning("could not record job outcomes; trying again", metadata: [
                            "jobs.count": "\(batch.successes.count + batch.others.count)", "error": "\(error)",
                        ])
                        try? await Task.sleep(for: .milliseconds(200 * tries))
                        continue
                    }
                    // No longer pending: the heartbeat stops extending their leases, so they
                    // expire and are rescued instead of staying running for ever.
                    logger.error("could not record job outcomes; the jobs will be rescued when their leases expire", metadata: [
                        "jobs.count": "\(batch.successes.count + batch.others.count)", "error": "\(error)",
                    ])
                    break
                }
            }
            pending.withLock { $0.writing = [] }
            written.signal()
        }
    }

    /// Waits until every outcome added so far is written, up to `timeout`. Only the claim loop's
    /// task calls this (it shares the claim loop's wake-up).
    func waitUntilWritten(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while backlog > 0 {
            let remaining = deadline - .now
            if remaining <= .zero || Task.isCancelled { return false }
            await written.wait(timeout: min(remaining, .milliseconds(50)))
        }
        return true
    }

    /// One statement per kind of outcome, each for every job of that kind in the batch, all in
    /// one transaction. Each statement checks the lease, so a retried write changes nothing twice.
    private func write(_ batch: Pending) async throws {
        let owner = owner
        let successes = batch.successes
        var failures: [(id: Int64, message: String, delay: Duration)] = []
        var finished: [(id: Int64, state: JobState, message: String)] = []
        var snoozed: [(id: Int64, delay: Duration)] = []
        var handedBack: [Int64] = []
        var sessionLost: [Int64] = []
        var jobs: [Int64: ClaimedJob] = [:]
        for (job, outcome) in batch.others {
            jobs[job.id] = job
            switch outcome {
            case .failed(let message, let delay): failures.append((job.id, message, delay))
            case .finished(let state, let message): finished.append((job.id, state, message))
            case .snoozed(let delay): snoozed.append((job.id, delay))
            case .handedBack(counted: false): handedBack.append(job.id)
            case .handedBack(counted: true): sessionLost.append(job.id)
            case .succeeded, .none: break
            }
        }
        // One transaction for the whole batch, logged once it committed: a write that is tried
        // again (or re-run after a lost commit reply) never sees half of itself.
        struct Written: Sendable {
            var succeeded = 0
            var failedStates: [Int64: JobState] = [:]
            var sessionLostStates: [Int64: JobState] = [:]
            var handedBack = 0
        }
        let written = try await database.run { connection in
            try await connection.withTransaction { transaction -> Written in
                var written = Written()
                if !successes.isEmpty {
                    written.succeeded = try await transaction.execute(JobStatements.succeedMany(ids: successes, owner: owner))
                }
                if !failures.isEmpty {
                    for row in try await transaction.query(JobStatements.failMany(failures, owner: owner)) {
                        written.failedStates[try row.decode("id", as: Int64.self)] = try row.decode("state", as: JobState.self)
                    }
                }
                if !finished.isEmpty { _ = try await transaction.query(JobStatements.finishMany(finished, owner: owner)) }
                if !snoozed.isEmpty { _ = try await transaction.query(JobStatements.snoozeMany(snoozed, owner: owner)) }
                if !sessionLost.isEmpty {
                    for row in try await transaction.query(JobStatements.handBackAfterSessionLoss(ids: sessionLost, owner: owner)) {
                        written.sessionLostStates[try row.decode("id", as: Int64.self)] = try row.decode("state", as: JobState.self)
                    }
                }
                if !handedBack.isEmpty {
                    written.handedBack = try await transaction.execute(JobStatements.handBack(ids: handedBack, owner: owner))
                }
                // Wake the daemons of these queues for what became ready again.
                let ready = Set((sessionLost + handedBack).compactMap { jobs[$0]?.queue })
                if !ready.isEmpty { try await transaction.execute(JobStatements.notify(queues: Array(ready))) }
                return written
            }
        }

        if written.succeeded < successes.count {
            logger.warning("some succeeded jobs were no longer held by this worker (cancelled, or rescued after their lease expired)", metadata: [
                "jobs.count": "\(successes.count - written.succeeded)",
            ])
        }
        for failure in failures {
            let logger = jobLogger(jobs[failure.id]!)
            switch written.failedStates[failure.id] {
            case .discarded?:
                logger.error("job discarded after its last attempt", metadata: ["error": "\(failure.message)"])
            case .some:
                logger.warning("job failed; will retry", metadata: [
                    "error": "\(failure.message)", "job.retry_in": "\(DurationText.format(failure.delay))",
                ])
            case nil:
                logger.warning("a failed job was no longer held by this worker", metadata: ["error": "\(failure.message)"])
            }
        }
        for item in finished { jobLogger(jobs[item.id]!).notice("job \(item.state.rawValue) by its handler") }
        for item in snoozed {
            jobLogger(jobs[item.id]!).debug("job snoozed", metadata: ["job.retry_in": "\(DurationText.format(item.delay))"])
        }
        for (id, state) in written.sessionLostStates where state == .discarded {
            jobLogger(jobs[id]!).error("job discarded: it lost its database session on its last attempt (its first \(JobStatements.freeSessionLosses) losses were not counted)")
        }
        if !written.sessionLostStates.isEmpty {
            logger.info("handed jobs back to the queue after their database session was lost", metadata: ["jobs.count": "\(written.sessionLostStates.count)"])
        }
        if written.handedBack > 0 {
            logger.info("handed jobs back to the queue", metadata: ["jobs.count": "\(written.handedBack)"])
        }
    }

    private func jobLogger(_ job: ClaimedJob) -> Logger {
        logger.forJob(job)
    }
}

import Logging
import Postgres
import Synchronization

/// Writes how jobs ended, in batches: all successes gathered since the last write go in one
/// UPDATE (one commit for many jobs), so that jobs which write nothing of their own do not
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

    /// Writes everything pending now (also used at shutdown, when `run` has stopped).
    func writeAll() async {
        while true {
            let batch = pending.withLock { pending -> Pending in
                let batch = Pending(successes: pending.successes, others: pending.others)
                pending.writing = batch.successes + batch.others.map(\.job.id)
                pending.successes.removeAll(keepingCapacity: true)
                pending.others.removeAll(keepingCapacity: true)
                return batch
            }
            if batch.successes.isEmpty && batch.others.isEmpty { return }
            do {
                try await write(batch)
            } catch is CancellationError {
                // Shutting down with the database away: leave them; their leases expire and
                // the jobs are rescued.
                pending.withLock { $0.writing = [] }
                return
            } catch {
                logger.error("could not record job outcomes; the jobs will be rescued when their leases expire", metadata: [
                    "jobs.count": "\(batch.successes.count + batch.others.count)", "error": "\(error)",
                ])
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

    private func write(_ batch: Pending) async throws {
        let owner = owner
        let successes = batch.successes
        if !successes.isEmpty {
            let updated = try await database.run { connection in
                try await connection.execute(JobStatements.succeedMany(ids: successes, owner: owner))
            }
            if updated < successes.count {
                logger.warning("some succeeded jobs were no longer held by this worker (cancelled, or rescued after their lease expired)", metadata: [
                    "jobs.count": "\(successes.count - updated)",
                ])
            }
        }
        var handedBack: [Int64] = []
        for (job, outcome) in batch.others {
            var logger = logger
            logger[metadataKey: "job.id"] = "\(job.id)"
            logger[metadataKey: "job.kind"] = "\(job.kind)"
            logger[metadataKey: "job.queue"] = "\(job.queue)"
            logger[metadataKey: "job.attempt"] = "\(job.attempt)"
            switch outcome {
            case .failed(let message, let delay):
                let rows = try await database.run { connection in
                    try await connection.query(JobStatements.fail(id: job.id, owner: owner, message: message, delay: delay))
                }
                if let state = try rows.first?.decode("state", as: JobState.self) {
                    if state == .discarded {
                        logger.error("job discarded after its last attempt", metadata: ["error": "\(message)"])
                    } else {
                        logger.warning("job failed; will retry", metadata: [
                            "error": "\(message)", "job.retry_in": "\(DurationText.format(delay))",
                        ])
                    }
                } else {
                    logger.warning("a failed job was no longer held by this worker", metadata: ["error": "\(message)"])
                }
            case .finished(let state, let message):
                _ = try await database.run { connection in
                    try await connection.execute(JobStatements.finish(id: job.id, owner: owner, state: state, message: message))
                }
                logger.notice("job \(state.rawValue) by its handler")
            case .snoozed(let delay):
                _ = try await database.run { connection in
                    try await connection.execute(JobStatements.snooze(id: job.id, owner: owner, delay: delay))
                }
                logger.debug("job snoozed", metadata: ["job.retry_in": "\(DurationText.format(delay))"])
            case .handedBack:
                handedBack.append(job.id)
            case .succeeded, .none:
                break
            }
        }
        if !handedBack.isEmpty {
            let ids = handedBack
            let count = try await database.run { connection in
                let count = try await connection.execute(JobStatements.handBack(ids: ids, owner: owner))
                if count > 0 { try await connection.execute(JobStatements.notify) }
                return count
            }
            logger.info("handed jobs back to the queue", metadata: ["jobs.count": "\(count)"])
        }
    }
}

import Foundation
import Logging
import Postgres

/// The queue's maintenance, run by one elected daemon at a time on a connection of its own
/// (never the heartbeat's, so that it cannot delay a lease):
/// - staging: due scheduled and retryable jobs become available, every `stageInterval`;
/// - rescue: jobs whose lease expired (their worker died: SIGKILL, out of memory, a lost
///   host) go back to retryable, or to discarded when that was their last attempt;
/// - periodic jobs: each slot of each schedule enqueued once (retention's `prune-jobs` among
///   them).
///
/// Every daemon tries to lead at each tick (`jobs_lead`, sql/011): the leader is a database
/// session, so when it dies another daemon leads within a tick. Two leaders at once (one that
/// hung past its term and came back) do no harm: staging and rescue skip each other's rows,
/// and a periodic slot is taken once.
struct Maintainer: Sendable {
    let database: ReconnectingConnection
    let owner: String
    let configuration: JobWorkerConfiguration
    let logger: Logger

    /// How long leadership holds without a renewal (a hung leader is replaced after this).
    static let term: Duration = .seconds(30)
    /// Jobs staged per statement.
    static let stageChunk = 5000

    func run() async {
        let clock = ContinuousClock()
        var leading = false
        var nextRescue = clock.now
        var nextPeriodic: [String: Date] = [:]
        // The same failure tick after tick (a refused periodic slot, say) is logged once, and
        // again when it changes or ends, not every second.
        var failing: String?
        while !Task.isCancelled {
            let tick = clock.now
            do {
                let leads = try await lead()
                if leads != leading {
                    leading = leads
                    if leads {
                        logger.info("this daemon now runs the queue's maintenance (making due jobs ready, rescuing the jobs of dead daemons, periodic jobs)")
                        nextRescue = tick
                        nextPeriodic = [:]
                    }
                }
                if leading {
                    try await stage()
                    if clock.now >= nextRescue {
                        nextRescue = clock.now + configuration.rescueInterval
                        try await rescue()
                    }
                    try await enqueuePeriodic(due: &nextPeriodic)
                }
                if failing != nil {
                    failing = nil
                    logger.info("queue maintenance works again")
                }
            } catch is CancellationError {
                break
            } catch {
                if Task.isCancelled { break }
                let description = "\(error)"
                if description != failing {
                    failing = description
                    logger.error("queue maintenance failed; trying again each tick (logged again when the error changes)", metadata: ["error": "\(description)"])
                }
            }
            try? await Task.sleep(until: tick + configuration.stageInterval, clock: clock)
        }
        if leading { await resign() }
    }

    private func lead() async throws -> Bool {
        let statement = JobStatements.lead(owner: owner, term: Self.term)
        return try await database.run { connection in
            try await connection.query(statement)[0].decode("leads", as: Bool.self)
        }
    }

    /// Hands the place on at once at shutdown, rather than after the session ends. In a task
    /// of its own: the maintainer's was cancelled.
    private func resign() async {
        let (statement, database) = (JobStatements.resign(owner: owner), database)
        await Task {
            _ = await withTimeout(.seconds(2)) {
                try? await database.run { connection in _ = try await connection.query(statement) }
            }
        }.value
    }

    /// Stages every due job, a chunk at a time; returns how many.
    @discardableResult
    func stage() async throws -> Int {
        let total = try await database.run { connection in try await Self.stage(on: connection) }
        if total > 0 { logger.debug("staged due jobs", metadata: ["jobs.count": "\(total)"]) }
        return total
    }

    /// Stages every due job on `connection`, a chunk per statement; returns how many. A
    /// draining worker calls it too, before it decides that nothing is due.
    static func stage(on connection: Connection) async throws -> Int {
        var total = 0
        while !Task.isCancelled {
            let staged = try await connection.query(JobStatements.stage(limit: stageChunk))[0].decode("staged", as: Int.self)
            total += staged
            if staged < stageChunk { break }
        }
        return total
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

    /// Enqueues the latest slot of each periodic job whose next slot came, at most once per
    /// slot across every daemon. `due` holds, per job, when to look next (empty: look now).
    private func enqueuePeriodic(due: inout [String: Date]) async throws {
        let now = configuration.now()
        for periodic in configuration.periodic {
            if let next = due[periodic.name], now < next { continue }
            let slot = periodic.schedule.latestSlot(atOrBefore: now)
            if let id = try await enqueue(periodic, slot: slot) {
                logger.info("enqueued a periodic job", metadata: [
                    "job.id": "\(id)", "job.kind": "\(periodic.job.kind)", "periodic.name": "\(periodic.name)",
                    "periodic.slot": "\(slot.postgresText)", "periodic.schedule": "\(periodic.schedule)",
                ])
            }
            due[periodic.name] = periodic.schedule.nextSlot(after: slot)
        }
    }

    /// The job's id when this call enqueued the slot, nil when it was enqueued already.
    func enqueue(_ periodic: PeriodicJob, slot: Date) async throws -> Int64? {
        var job = periodic.job
        job.runAt = nil
        job.uniqueKey = "periodic:\(periodic.name):\(slot.postgresText)"
        return try await database.run { connection in
            try await connection.withTransaction { transaction -> Int64? in
                guard try await !transaction.query(JobStatements.claimPeriodicSlot(periodic, slot: slot)).isEmpty else { return nil }
                let enqueued = try await transaction.enqueue(job)
                try await transaction.execute(JobStatements.recordPeriodicJob(name: periodic.name, jobID: enqueued.id))
                return enqueued.id
            }
        }
    }
}

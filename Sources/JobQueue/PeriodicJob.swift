import Foundation
import Postgres

/// A job enqueued by the elected daemon once per slot of its schedule, however many daemons
/// run (sql/011_jobs_scheduling.sql). A slot missed while no daemon ran is enqueued once when
/// one starts; older missed slots are not repeated.
public struct PeriodicJob: Sendable {
    /// Names the series in `job_periodic`; the slot's job carries `periodic:NAME:SLOT` as its
    /// unique key.
    public var name: String
    public var schedule: Schedule
    /// What to enqueue at each slot (its `runAt` and `uniqueKey` are set per slot).
    public var job: NewJob

    public init(name: String, schedule: Schedule, job: NewJob) {
        self.name = name
        self.schedule = schedule
        self.job = job
    }
}

/// `prune-jobs`: deletes finished jobs older than its age, a chunk at a time, and the
/// presence rows of daemons gone for a day. receptiond's retention enqueues it periodically
/// (`--retention`, `--prune-schedule`).
public struct PruneJob: JobHandler {
    public struct Arguments: Codable, Sendable {
        public var olderThanSeconds: Int64
        public init(olderThan age: Duration) { olderThanSeconds = age.components.seconds }
    }
    public static let kind = "prune-jobs"
    /// Rows per DELETE: short statements that hold few locks, so pruning never stalls claims.
    static let chunk = 1000

    public init() {}

    public func run(_ arguments: Arguments, context: JobContext) async throws {
        let age = Duration.seconds(max(0, arguments.olderThanSeconds))
        let total = try await context.withConnection { connection in
            let total = try await Self.prune(olderThan: age, on: connection)
            _ = try await connection.execute(JobStatements.prunePresence)
            return total
        }
        context.logger.info("pruned finished jobs", metadata: ["jobs.count": "\(total)", "jobs.older_than": "\(DurationText.format(age))"])
    }

    /// Deletes finished jobs older than `age`, a chunk per statement, until none is left (or the
    /// task is cancelled); returns how many. `reception jobs prune` runs it too (`JobAdmin`).
    static func prune(olderThan age: Duration, on connection: Connection) async throws -> Int {
        var total = 0
        while true {
            try Task.checkCancellation()
            let deleted = try await connection.execute(JobStatements.prune(olderThan: age, limit: chunk))
            total += deleted
            if deleted < chunk { return total }
        }
    }
}

import JobQueue
import Postgres

/// `deadline-check`: the daily record of households that became due soon or overdue, for the
/// morning's list (`reception case notices`). receptiond enqueues it once a day as a periodic
/// job (`--deadline-check-schedule`, default every day at 05:00 Europe/Stockholm). The database
/// does the work (`deadline_check`, sql/013_anvisningar.sql): each household is noticed once per
/// kind, however often the job runs.
public struct DeadlineCheckJob: JobHandler {
    /// None: the notice window (14 days) is the database's, so that no caller can move it.
    public struct Arguments: Codable, Sendable {
        public init() {}
    }

    public static let kind = "deadline-check"
    public static let defaultSchedule = "every day at 05:00 Europe/Stockholm"

    public init() {}

    public func run(_ arguments: Arguments, context: JobContext) async throws {
        let (due, overdue) = try await context.withConnection { connection in
            try await DeadlineNotices.check(on: connection)
        }
        // Counts only: which households they are is for the officers' list, not for a log.
        context.logger.info("deadline check", metadata: ["cases.due": "\(due)", "cases.overdue": "\(overdue)"])
    }
}

import JobQueue
import Postgres

/// `deadline-check`: the daily record of households that became due soon or overdue, for the
/// morning's list (`reception case notices`). receptiond enqueues it once a day as a periodic
/// job (`--deadline-check-schedule`, default every day at 05:00 Europe/Stockholm). The database
/// does the work (`deadline_check`, sql/013_anvisningar.sql): each household is noticed once per
/// kind, however often the job runs.
public struct DeadlineCheckJob: JobHandler {
    public struct Arguments: Codable, Sendable {
        /// A waiting household whose latest reception date is fewer than this many days away
        /// is noticed as due.
        public var noticeDays: Int
        public init(noticeDays: Int = DeadlineCheckJob.noticeDays) { self.noticeDays = noticeDays }
        enum CodingKeys: String, CodingKey { case noticeDays = "notice_days" }
    }

    public static let kind = "deadline-check"
    /// Two weeks: the `case list --due-within 14d` that an officer reads.
    public static let noticeDays = 14
    public static let defaultSchedule = "every day at 05:00 Europe/Stockholm"

    public init() {}

    public func run(_ arguments: Arguments, context: JobContext) async throws {
        let (due, overdue) = try await context.withConnection { connection in
            try await DeadlineNotices.check(noticeDays: arguments.noticeDays, on: connection)
        }
        // Counts only: which households they are is for the officers' list, not for a log.
        context.logger.info("deadline check", metadata: ["cases.due": "\(due)", "cases.overdue": "\(overdue)"])
    }
}

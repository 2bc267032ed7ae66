import Postgres

/// Where a job is in its life (see sql/002_jobs.sql for the transitions).
public enum JobState: String, Sendable, Codable, CaseIterable, PostgresEncodable, PostgresDecodable {
    /// Due later (at `runAt`); staged to `available` when due (sql/011_jobs_scheduling.sql).
    case scheduled
    /// Ready to run: the only state a claim reads.
    case available
    /// Claimed by a worker, which holds a lease on it.
    case running
    /// Done.
    case succeeded
    /// Failed, or its worker was lost; staged to `available` again at `runAt`.
    case retryable
    /// Failed on its last attempt, or discarded by its handler: the dead letter. Kept with its
    /// whole error history until pruned; `reception jobs retry` runs it again.
    case discarded
    /// Cancelled by an operator or by its handler.
    case cancelled

    /// Succeeded, discarded or cancelled: nothing will run it again on its own.
    public var isFinished: Bool {
        switch self {
        case .succeeded, .discarded, .cancelled: true
        case .scheduled, .available, .running, .retryable: false
        }
    }

    public static var postgresType: PostgresType { .text }
    public var postgresText: String { rawValue }
    public static func decode(postgresText text: String) -> JobState? { JobState(rawValue: text) }
}

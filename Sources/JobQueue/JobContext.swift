import Logging
import Postgres
import Synchronization

/// What a handler gets besides its arguments: the job, a logger, and the database.
public struct JobContext: Sendable {
    public let job: ClaimedJob
    /// Carries `job.id`, `job.kind`, `job.queue`, `job.attempt`. Never log the arguments.
    public let logger: Logger
    let pool: ConnectionPool
    let owner: String
    let completion: CompletionMark

    /// Runs `body` in a transaction that also marks this job succeeded: the handler's writes
    /// and the job's completion commit together or not at all — an exactly-once effect even
    /// if the worker dies at any instruction.
    ///
    /// The job's row is locked first, and only while this worker still holds the job; if it
    /// does not (an operator cancelled it, or its lease expired and another worker took it
    /// over), nothing runs and `JobQueueError.leaseLost` is thrown. Call it at most once, as the
    /// handler's last step. On a serialization failure or deadlock the transaction (and so
    /// `body`) runs again.
    @discardableResult
    public func complete<T>(_ body: (Connection) async throws -> T) async throws -> T {
        let value = try await pool.withConnection { connection in
            try await connection.withTransaction { transaction in
                try await Self.markSucceeded(job: job.id, owner: owner, on: transaction)
                return try await body(transaction)
            }
        }
        completion.mark()
        return value
    }

    /// A connection for reads or writes that need not commit with the job (they may happen
    /// again if the job runs again).
    public func withConnection<T>(_ body: (Connection) async throws -> T) async throws -> T {
        try await pool.withConnection(body)
    }

    /// Locks the job's row for the rest of the caller's transaction, after checking that this
    /// worker still holds it: the heartbeat skips the locked row (nobody can rescue it
    /// meanwhile), so the transaction can end with `markSucceeded(in:)` and not be failed by
    /// a lease extension. Call it as the transaction's first statement.
    public func lock(in transaction: Connection) async throws {
        let rows = try await transaction.query(JobStatements.lockOne(id: job.id, owner: owner))
        guard !rows.isEmpty else { throw JobQueueError.leaseLost(jobID: job.id) }
    }

    /// Marks the job succeeded inside the caller's transaction, for handlers that manage the
    /// transaction themselves: `try await context.markSucceeded(in: transaction)` as the
    /// transaction's first statement, or after `lock(in:)`. Prefer `complete`.
    public func markSucceeded(in transaction: Connection) async throws {
        try await Self.markSucceeded(job: job.id, owner: owner, on: transaction)
        completion.mark()
    }

    static func markSucceeded(job id: Int64, owner: String, on connection: Connection) async throws {
        let updated = try await connection.execute(JobStatements.succeedOne(id: id, owner: owner))
        guard updated == 1 else { throw JobQueueError.leaseLost(jobID: id) }
    }
}

/// Whether a handler completed its job itself (in its own transaction).
final class CompletionMark: Sendable {
    private let marked = Atomic<Bool>(false)
    func mark() { marked.store(true, ordering: .releasing) }
    var isMarked: Bool { marked.load(ordering: .acquiring) }
}

import JobQueue
import Logging
import Postgres

/// The job that runs an allocation batch in `receptiond`.
///
/// The proposals, the capacity they hold, their audit events, the batch's result and the job's
/// success commit in one REPEATABLE READ transaction. If a concurrent batch or decision touched
/// what this one read, PostgreSQL raises a serialization failure and the transaction — loading,
/// solving, writing — runs again on the new numbers. If the worker dies midway, nothing of the
/// batch is visible and the job is rescued and run again: an exactly-once effect.
public struct AllocationBatchJob: JobHandler {
    public typealias Arguments = BatchRun.Arguments
    public static var kind: String { BatchRun.jobKind }

    public init() {}

    public func run(_ arguments: Arguments, context: JobContext) async throws {
        var logger = context.logger
        logger[metadataKey: "batch.id"] = "\(arguments.batchID)"
        // Officers watching `batch show` see it start; this commits on its own.
        _ = try await context.withConnection { connection in
            try await connection.execute("""
                UPDATE batches SET status = 'running', started_at = coalesce(started_at, now())
                WHERE id = \(arguments.batchID) AND status = 'queued'
                """)
        }
        do {
            try await context.withConnection { connection -> Void in
                try await connection.withTransaction(isolation: .repeatableRead, maxAttempts: 10) { transaction in
                    // The job stays running (and locked, so heartbeats pass it by) until the
                    // end: the database lets the worker write a batch only while its login
                    // holds the batch's job running (sql/008_privileges.sql).
                    try await context.lock(in: transaction)
                    _ = try await BatchRun.run(batchID: arguments.batchID, on: transaction, logger: logger)
                    try await context.markSucceeded(in: transaction)
                }
            }
        } catch let error as ReceptionError {
            // A batch that no longer exists or already ended: retrying cannot help.
            try await markFailed(arguments.batchID, error: error, context: context)
            throw JobControl.discard(reason: error.description)
        } catch {
            if context.job.isLastAttempt { try await markFailed(arguments.batchID, error: error, context: context) }
            throw error
        }
    }

    private func markFailed(_ batchID: Int, error: any Error, context: JobContext) async throws {
        _ = try await context.withConnection { connection in
            try await connection.execute("""
                UPDATE batches SET status = 'failed', finished_at = now(), error = \("\(error)")
                WHERE id = \(batchID) AND status IN ('queued', 'running')
                """)
        }
    }
}

import JobQueue
import Logging
import Postgres

/// The job that runs an allocation batch in `receptiond` (see `BatchRun` for its three steps).
///
/// No transaction is open while the engine works, and the engine works on a thread of its own;
/// the write's transaction locks the job's row first and completes the job last, so the
/// proposals and the job's success commit together or not at all. If the worker dies midway,
/// nothing of the batch is visible and the job is rescued and run again: an exactly-once effect.
///
/// The solve stops when its time limit ends (the best placement so far is written), and its
/// handler is cancelled — the solve stops, nothing is written — when the attempt times out
/// (the time limit plus `margin`), when an operator cancels the job, when the lease is lost,
/// and at shutdown (the job goes back to the queue for another daemon). A batch whose job ends
/// without finishing it is marked failed or cancelled by the database (sql/009_batch_jobs.sql).
public struct AllocationBatchJob: JobHandler {
    public typealias Arguments = BatchRun.Arguments
    public static var kind: String { BatchRun.jobKind }
    /// A solve is pure computation that another daemon can start again: not worth the grace period.
    public static var atShutdown: ShutdownBehaviour { .interrupt }
    /// Time for loading and writing, beyond the engine's time limit.
    public static let margin: Duration = .seconds(120)

    private let solve: BatchRun.Solve

    public init(solve: @escaping BatchRun.Solve = BatchRun.solveOnOwnThread) {
        self.solve = solve
    }

    public func timeout(for arguments: Arguments) -> Duration? {
        // Jobs enqueued before migration 009 carry no time limit: the longest a batch may ask
        // (request_batch allows up to 3600 s, and only it creates these jobs).
        let limit = arguments.timeLimit.flatMap { $0.isFinite ? min(max($0, 0), 3600) : nil } ?? 3600
        return .seconds(limit) + Self.margin
    }

    public func run(_ arguments: Arguments, context: JobContext) async throws {
        var logger = context.logger
        logger[metadataKey: "batch.id"] = "\(arguments.batchID)"
        do {
            // The database lets the worker write a batch only while its login holds the batch's
            // job running (sql/008_privileges.sql); locking the job's row first means no rescue
            // or cancel can change it until the write commits. The connection sits idle (no
            // transaction) during the solve.
            _ = try await context.withConnection { connection in
                try await BatchRun.run(batchID: arguments.batchID, on: connection, logger: logger, solve: solve,
                                       beforeWrite: context.lock(in:), afterWrite: context.markSucceeded(in:))
            }
        } catch let error as ReceptionError {
            // A batch that no longer exists or already ended: retrying cannot help.
            throw JobControl.discard(reason: error.description)
        }
    }
}

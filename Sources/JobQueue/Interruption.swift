/// Why the worker stopped a job's handler before it ended by itself.
enum Interruption: Sendable, Equatable {
    /// The attempt ran past its timeout: it fails (and is retried like any failure).
    case timedOut(Duration)
    /// The job is no longer this worker's: an operator cancelled it, or its lease expired and
    /// another worker rescued it. Nothing is written; its writes, if any, roll back.
    case lost(cancelledByOperator: Bool)
    /// An operator asked to cancel the job while its row was locked (sql/021): the attempt
    /// ends cancelled, unless the handler had committed its result by then.
    case cancelRequested
    /// Graceful shutdown: back to the queue, the attempt not counted.
    case shutdown

    /// The history's entry of a job cancelled on an operator's request (as sql/021 writes it).
    static let cancelRequestedMessage = "cancelled by an operator while running"
}

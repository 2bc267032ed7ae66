import Foundation

/// Runs the jobs of one kind. Register handlers in a `JobRegistry` and hand it to a `JobWorker`.
///
/// A handler that returns normally succeeds its job. For an exactly-once effect, do the
/// database writes inside `context.complete { transaction in ... }`: the writes and the job's
/// success commit together, so a worker that dies at any instruction leaves either both or
/// neither. A handler that throws fails its attempt (retried with backoff until the job's
/// max attempts, then discarded); throw a `JobControl` to cancel, discard or snooze instead.
///
/// A job may run more than once (its worker died before finishing it, the database went
/// away): a handler must be safe to run again, which `complete` gives you for its writes.
/// Error descriptions are stored in the job's history and logged: they must not contain
/// personal data.
public protocol JobHandler: Sendable {
    /// The job's arguments, decoded from JSON. Use `NoArguments` when there are none.
    associatedtype Arguments: Codable & Sendable

    /// The name jobs use to find this handler (`noop`, `allocation-batch`).
    static var kind: String { get }

    /// Backoff between failed attempts; nil uses the worker's policy.
    static var retryPolicy: RetryPolicy? { get }

    /// What a graceful shutdown does to a running job of this kind.
    static var atShutdown: ShutdownBehaviour { get }

    /// How long one attempt may run before its handler is cancelled and the attempt fails
    /// ("timed out"); nil uses the worker's default (`JobWorkerConfiguration.jobTimeout`).
    func timeout(for arguments: Arguments) -> Duration?

    /// Runs one attempt. Check for cancellation in long work: the worker cancels the task when
    /// the attempt times out, when the job was cancelled by an operator or its lease was lost
    /// (within one heartbeat), and at shutdown.
    func run(_ arguments: Arguments, context: JobContext) async throws
}

/// What a graceful shutdown does to a running job.
public enum ShutdownBehaviour: Sendable {
    /// Let it finish within the grace period (then cancel it and hand it back): for jobs that
    /// are short, or whose half-done work would be lost.
    case finish
    /// Cancel it at once and hand it back to the queue (the attempt is not counted): for long
    /// computations that another daemon can simply start again.
    case interrupt
}

extension JobHandler {
    public static var retryPolicy: RetryPolicy? { nil }
    public static var atShutdown: ShutdownBehaviour { .finish }
    public func timeout(for arguments: Arguments) -> Duration? { nil }
}

/// Arguments of a handler that needs none: decodes from any JSON, encodes as `{}`.
public struct NoArguments: Codable, Sendable, Equatable {
    public init() {}
    public init(from decoder: any Decoder) throws {}
    public func encode(to encoder: any Encoder) throws {
        _ = encoder.container(keyedBy: NoKeys.self)
    }
    private enum NoKeys: CodingKey {}
}

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

    func run(_ arguments: Arguments, context: JobContext) async throws
}

extension JobHandler {
    public static var retryPolicy: RetryPolicy? { nil }
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

import Foundation
import Logging
import Postgres

/// A job a worker has claimed and runs now, as its handler sees it.
public struct ClaimedJob: Sendable, Equatable {
    public let id: Int64
    public let queue: String
    public let kind: String
    /// The arguments as JSON text. Never log them.
    public let arguments: String
    public let priority: Int
    /// This attempt's number, from 1.
    public let attempt: Int
    public let maxAttempts: Int
    public let runAt: Date
    public let createdAt: Date

    /// True when a failure now discards the job instead of retrying it.
    public var isLastAttempt: Bool { attempt >= maxAttempts }

    /// Reads a row of the claim's RETURNING list.
    init(row: Row) throws {
        id = try row.decode("id")
        queue = try row.decode("queue")
        kind = try row.decode("kind")
        arguments = try row.decode("args")
        priority = try row.decode("priority", as: Int.self)
        attempt = try row.decode("attempt", as: Int.self)
        maxAttempts = try row.decode("max_attempts", as: Int.self)
        runAt = try row.decode("run_at")
        createdAt = try row.decode("created_at")
    }

    /// Claim order: higher priority first, then earlier run_at, then lower id.
    static func claimOrder(_ a: ClaimedJob, _ b: ClaimedJob) -> Bool {
        if a.priority != b.priority { return a.priority > b.priority }
        if a.runAt != b.runAt { return a.runAt < b.runAt }
        return a.id < b.id
    }
}

extension Logger {
    /// This logger with the job's id, kind, queue and attempt, set in one assignment: a log
    /// handler may re-format all of its metadata on each change (swift-log's StreamLogHandler
    /// does), and one change per key was a fifth of the daemon's CPU in a no-op drain.
    func forJob(_ job: ClaimedJob) -> Logger {
        var logger = self
        logger.handler.metadata.merge([
            "job.id": "\(job.id)", "job.kind": "\(job.kind)", "job.queue": "\(job.queue)", "job.attempt": "\(job.attempt)",
        ]) { _, new in new }
        return logger
    }
}

import Foundation
import Postgres

/// A job as stored, for operators and tests (`reception jobs show`). Workers hand handlers a
/// `ClaimedJob` instead, which is lighter.
public struct JobRecord: Sendable, Codable, Equatable {
    public var id: Int64
    public var queue: String
    public var kind: String
    /// The arguments as JSON text.
    public var arguments: String
    public var priority: Int
    public var runAt: Date
    public var state: JobState
    public var attempt: Int
    public var maxAttempts: Int
    public var errors: [JobErrorEntry]
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    public var uniqueKey: String?
    public var createdAt: Date
    public var attemptedAt: Date?
    public var finishedAt: Date?
    /// When an operator asked to cancel the job while its row was locked (sql/021); its daemon
    /// stops it at its next heartbeat.
    public var cancelRequestedAt: Date?

    /// Reads a row of `SELECT id, queue, kind, args::text AS args, priority, run_at, state,
    /// attempt, max_attempts, errors::text AS errors, lease_owner, lease_expires_at, unique_key,
    /// created_at, attempted_at, finished_at, cancel_requested_at` (`JobStatements.recordColumns`).
    init(row: Row) throws {
        id = try row.decode("id", as: Int64.self)
        queue = try row.decode("queue")
        kind = try row.decode("kind")
        arguments = try row.decode("args")
        priority = try row.decode("priority", as: Int.self)
        runAt = try row.decode("run_at")
        state = try row.decode("state")
        attempt = try row.decode("attempt", as: Int.self)
        maxAttempts = try row.decode("max_attempts", as: Int.self)
        errors = try JobErrorEntry.decodeHistory(try row.decode("errors", as: String.self))
        leaseOwner = try row.decode("lease_owner")
        leaseExpiresAt = try row.decode("lease_expires_at")
        uniqueKey = try row.decode("unique_key")
        createdAt = try row.decode("created_at")
        attemptedAt = try row.decode("attempted_at")
        finishedAt = try row.decode("finished_at")
        cancelRequestedAt = try row.decode("cancel_requested_at")
    }
}

/// One failure in a job's history.
public struct JobErrorEntry: Sendable, Codable, Equatable {
    public var at: Date
    public var attempt: Int
    public var message: String
    /// The worker that ran the failed attempt.
    public var worker: String?

    public init(at: Date, attempt: Int, message: String, worker: String?) {
        self.at = at
        self.attempt = attempt
        self.message = message
        self.worker = worker
    }

    /// Reads the `errors` column: a JSON array whose times are written by `to_jsonb(now())`
    /// (`2026-11-02T14:03:07.123456+00:00`).
    static func decodeHistory(_ json: String) throws -> [JobErrorEntry] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = Date.decode(postgresText: text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a timestamp"))
            }
            return date
        }
        do {
            return try decoder.decode([JobErrorEntry].self, from: Data(json.utf8))
        } catch {
            throw PostgresError.decoding(column: "errors", expected: "[JobErrorEntry]", reason: .typeMismatch)
        }
    }
}


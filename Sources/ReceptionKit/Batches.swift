import Foundation
import JobQueue
import Placement
import Postgres

/// An allocation batch as officers see it.
public struct BatchRecord: Encodable, Sendable {
    public let id: Int
    public let period: Int
    public let status: String
    public let dryRun: Bool
    public let requestedBy: String
    public let createdAt: Date
    public let finishedAt: Date?
    public let objective: Int?
    public let bound: Int?
    public let jobID: Int?
    public let jobState: String?
    /// The last error of the job that runs the batch, if it failed.
    public let jobError: String?
    /// Why the batch failed or was cancelled, when it ended with its job (sql/009_batch_jobs.sql).
    public let error: String?
    public let summary: BatchSummary?
    /// While the batch runs: the engine's best objective and bound so far (BatchRun publishes it).
    public let progress: BatchProgress?

    /// The certified gap: how far below the best possible placement this one may be, at most.
    public var gap: Double? {
        guard let objective, let bound, bound > 0 else { return nil }
        return Double(bound - objective) / Double(bound)
    }

    enum CodingKeys: String, CodingKey {
        case id, period, status, dryRun = "dry_run", requestedBy = "requested_by", createdAt = "created_at"
        case finishedAt = "finished_at", objective, bound, jobID = "job_id", jobState = "job_state"
        case jobError = "job_error", error, summary, gap, progress
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(period, forKey: .period)
        try c.encode(status, forKey: .status)
        try c.encode(dryRun, forKey: .dryRun)
        try c.encode(requestedBy, forKey: .requestedBy)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encodeIfPresent(finishedAt, forKey: .finishedAt)
        try c.encodeIfPresent(objective, forKey: .objective)
        try c.encodeIfPresent(bound, forKey: .bound)
        try c.encodeIfPresent(gap, forKey: .gap)
        try c.encodeIfPresent(jobID, forKey: .jobID)
        try c.encodeIfPresent(jobState, forKey: .jobState)
        try c.encodeIfPresent(jobError, forKey: .jobError)
        try c.encodeIfPresent(error, forKey: .error)
        try c.encodeIfPresent(summary, forKey: .summary)
        try c.encodeIfPresent(progress, forKey: .progress)
    }
}

/// How far a running batch's solve has come.
public struct BatchProgress: Codable, Sendable, Equatable {
    /// Seconds since the engine started.
    public let seconds: Double
    /// Score of the best placement found so far.
    public let objective: Int
    /// Proven upper bound on the best possible score (0 before the engine's first bound).
    public let bound: Int

    /// The certified gap so far, once there is a bound.
    public var gap: Double? { bound > 0 ? Double(bound - objective) / Double(bound) : nil }
}

public enum Batches {
    /// Records a batch and enqueues the job that runs it, in one transaction: a batch without
    /// its job (or the reverse) cannot exist.
    /// `lookAhead` passes the engine a forecast of the rest of the period (``BatchForecast``) of
    /// `expected` households, or as many as the remaining quota leaves when nil.
    public static func request(
        period: Int, municipalities: [String]?, timeLimit: Double, dryRun: Bool,
        lookAhead: Bool = true, expected: Int? = nil, forecast: [PlacementInstance.Case] = [],
        on connection: Connection
    ) async throws -> BatchRecord {
        try await connection.withTransaction { connection in
            if let municipalities, !municipalities.isEmpty {
                let known = try await connection.query("SELECT code FROM municipalities WHERE code = ANY(\(municipalities))")
                let found = Set(try known.map { try $0.decode("code", as: String.self) })
                let unknown = municipalities.filter { !found.contains($0) }
                if !unknown.isEmpty { throw ReceptionError.notFound("no municipality with code \(unknown.joined(separator: ", "))") }
            }
            // The database creates the batch and its job together (sql/008_privileges.sql): an
            // officer cannot insert jobs or repoint a batch's job.
            let rows = try await connection.query("""
                SELECT request_batch(\(period)::int, \(dryRun), \(timeLimit), \(municipalities ?? []),
                                     \(lookAhead), \(expected)::int, \(BatchForecast.fileJSON(forecast))::jsonb) AS id
                """)
            return try await find(try rows[0].decode("id", as: Int.self), on: connection)
        }
    }

    public static func find(_ id: Int, on connection: Connection) async throws -> BatchRecord {
        let rows = try await connection.query("\(fragment: select) WHERE b.id = \(id)")
        guard let row = rows.first else { throw ReceptionError.notFound("no batch with id \(id)") }
        return try record(row)
    }

    public static func list(period: Int?, limit: Int, on connection: Connection) async throws -> [BatchRecord] {
        let rows = try await connection.query("""
            \(fragment: select) WHERE (\(period)::bigint IS NULL OR b.period = \(period)) ORDER BY b.id DESC LIMIT \(limit)
            """)
        return try rows.map(record)
    }

    /// Waits until the batch has finished or its job has given up (discarded or cancelled).
    /// `onWait` is called about every second with the batch as it stands (for progress).
    public static func wait(
        for id: Int, on connection: Connection, onWait: (BatchRecord, Duration) -> Void = { _, _ in }
    ) async throws -> BatchRecord {
        let started = ContinuousClock.now
        var lastReport = started
        while true {
            let batch = try await find(id, on: connection)
            if batch.status != "queued" && batch.status != "running" { return batch }
            if let state = batch.jobState, state == "discarded" || state == "cancelled" { return batch }
            let now = ContinuousClock.now
            if now - lastReport >= .seconds(1) {
                onWait(batch, now - started)
                lastReport = now
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    static let select: Query = """
        SELECT b.id, b.period, b.status, b.dry_run, b.requested_by, b.created_at, b.finished_at, b.objective, b.bound,
               b.job_id, j.state AS job_state, j.errors->-1->>'message' AS job_error, b.error,
               CASE WHEN b.summary ? 'placed' THEN b.summary::text END AS summary,
               CASE WHEN b.status = 'running' THEN (b.summary -> 'progress')::text END AS progress
        FROM batches b LEFT JOIN jobs j ON j.id = b.job_id
        """

    static func record(_ row: Row) throws -> BatchRecord {
        let decoder = JSONDecoder()
        let summary = try row.decode("summary", as: String?.self).flatMap { try? decoder.decode(BatchSummary.self, from: Data($0.utf8)) }
        let progress = try row.decode("progress", as: String?.self).flatMap { try? decoder.decode(BatchProgress.self, from: Data($0.utf8)) }
        return BatchRecord(
            id: try row.decode("id"), period: try row.decode("period"), status: try row.decode("status"),
            dryRun: try row.decode("dry_run"), requestedBy: try row.decode("requested_by"), createdAt: try row.decode("created_at"),
            finishedAt: try row.decode("finished_at"), objective: try row.decode("objective"), bound: try row.decode("bound"),
            jobID: try row.decode("job_id"), jobState: try row.decode("job_state"), jobError: try row.decode("job_error"),
            error: try row.decode("error"), summary: summary, progress: progress)
    }
}

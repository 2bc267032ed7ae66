import Foundation
import Postgres

extension Connection {
    /// Enqueues one job on this connection, inside the caller's transaction if one is open: a
    /// case and its job commit together or not at all. Workers are woken when it commits.
    ///
    /// With a unique key that a queued or running job already holds, nothing is added and the
    /// existing job is returned (`inserted == false`).
    @discardableResult
    public func enqueue(_ job: NewJob) async throws -> EnqueuedJob {
        try JobQueueError.validate(job)
        guard let key = job.uniqueKey else {
            let rows = try await query(JobStatements.insert(job))
            return EnqueuedJob(id: try rows[0].decode("id"), inserted: true)
        }
        // Insert, or find the holder of the key. The holder may finish between the two
        // statements; then the key is free again and the insert is tried once more.
        for _ in 0..<5 {
            let inserted = try await query(JobStatements.insertUnique(job))
            if let row = inserted.first { return EnqueuedJob(id: try row.decode("id"), inserted: true) }
            let existing = try await query(JobStatements.holder(ofUniqueKey: key))
            if let row = existing.first { return EnqueuedJob(id: try row.decode("id"), inserted: false) }
        }
        throw JobQueueError.uniqueKeyContention
    }

    /// Enqueues many jobs in one round trip (COPY when it can, else one multi-row INSERT), in
    /// the caller's transaction if one is open, and wakes the workers once. Returns how many
    /// were added: jobs whose unique key is already held are skipped.
    @discardableResult
    public func enqueue(_ jobs: [NewJob]) async throws -> Int {
        guard !jobs.isEmpty else { return 0 }
        for job in jobs { try JobQueueError.validate(job) }
        if jobs.allSatisfy({ $0.runAt == nil && $0.uniqueKey == nil && $0.maxAttempts == nil }) {
            // COPY: the fastest way in; the server fills in every default.
            var rows = CopyRows(reservingBytes: jobs.count * (24 + jobs[0].kind.utf8.count + jobs[0].arguments.utf8.count))
            for job in jobs { rows.append(JobStatements.copyRow(job)) }
            return try await copy(into: JobStatements.copyTable, columns: JobStatements.copyColumns, rows: rows)
        }
        return try await execute(JobStatements.insertMany(jobs))
    }
}

import Foundation
import Postgres

/// What operators do to the queue: look, check health, retry, cancel, pause and resume, prune.
public struct JobAdmin: Sendable {
    public let connection: Connection

    public init(_ connection: Connection) {
        self.connection = connection
    }

    /// The newest jobs first, filtered by state, kind and queue when given.
    public func list(state: JobState? = nil, kind: String? = nil, queue: String? = nil, limit: Int = 50) async throws -> [JobRecord] {
        try await connection.query(JobStatements.list(state: state, kind: kind, queue: queue, limit: limit)).map(JobRecord.init(row:))
    }

    /// One job with its error history, or nil.
    public func job(_ id: Int64) async throws -> JobRecord? {
        try await connection.query(JobStatements.job(id, locked: false)).first.map(JobRecord.init(row:))
    }

    /// Makes a job ready to run now. A discarded job gets one more attempt; its history stays.
    /// Returns nil when there is no such job; throws `notAllowed` for a running job.
    public func retry(_ id: Int64) async throws -> JobRecord? {
        try await connection.withTransaction { transaction in
            guard let job = try await JobAdmin(transaction).lockedJob(id) else { return nil }
            guard job.state != .running else { throw JobQueueError.notAllowed(jobID: id, state: job.state, action: "retry") }
            try await transaction.execute(JobStatements.withdrawCancelRequest(id))
            try await transaction.execute(JobStatements.retry(id))
            try await transaction.execute(JobStatements.notify(queues: [job.queue]))
            return try await JobAdmin(transaction).job(id)
        }
    }

    /// What an operator's cancel did.
    public enum Cancellation: Sendable, Equatable {
        /// The job is cancelled: it will not run, and a running job's worker can no longer
        /// complete it (its writes roll back); its handler stops at the next heartbeat.
        case cancelled(JobRecord)
        /// The job's row was locked (its handler committing its result, or a daemon claiming
        /// it), so the cancel was recorded beside it: its daemon stops the handler at its next
        /// heartbeat and the job ends cancelled — unless the handler's commit came first, and
        /// then it succeeded.
        case requested(JobRecord)

        public var job: JobRecord {
            switch self {
            case .cancelled(let job), .requested(let job): job
            }
        }
    }

    /// Cancels a job that has not finished, at once, whatever locks the job holds: nil when
    /// there is no such job; throws `notAllowed` for a finished job.
    public func cancel(_ id: Int64) async throws -> Cancellation? {
        do {
            return try await connection.withTransaction { transaction in
                // A heartbeat, claim or hand-back holds the row for milliseconds; a handler
                // committing its result, for as long as its transaction lasts.
                try await transaction.execute(JobStatements.cancelLockTimeout)
                guard let job = try await JobAdmin(transaction).lockedJob(id) else { return nil }
                guard !job.state.isFinished else { throw JobQueueError.notAllowed(jobID: id, state: job.state, action: "cancel") }
                try await transaction.execute(JobStatements.cancel(id))
                return try await JobAdmin(transaction).job(id).map(Cancellation.cancelled)
            }
        } catch let error as PostgresError where error.sqlState == .lockNotAvailable {
            // Read without a lock: the last committed state.
            guard let job = try await self.job(id) else { return nil }
            guard !job.state.isFinished else { throw JobQueueError.notAllowed(jobID: id, state: job.state, action: "cancel") }
            try await connection.execute(JobStatements.requestCancel(id))
            // It may have ended meanwhile: then there is nothing to cancel, as above.
            guard let after = try await self.job(id), !after.state.isFinished else {
                try await connection.execute(JobStatements.withdrawCancelRequest(id))
                let state = try await self.job(id)?.state ?? job.state
                throw JobQueueError.notAllowed(jobID: id, state: state, action: "cancel")
            }
            return .requested(after)
        }
    }

    private func lockedJob(_ id: Int64) async throws -> JobRecord? {
        try await connection.query(JobStatements.job(id, locked: true)).first.map(JobRecord.init(row:))
    }

    /// Stops daemons from claiming jobs of the queue (running ones go on). False if it was
    /// already paused.
    @discardableResult
    public func pause(queue: String) async throws -> Bool {
        return try await connection.execute(JobStatements.pause(queue: queue)) == 1
    }

    /// Lets daemons claim from the queue again, and wakes them. False if it was not paused.
    @discardableResult
    public func resume(queue: String) async throws -> Bool {
        try await connection.withTransaction { transaction in
            let resumed = try await transaction.execute(JobStatements.resume(queue: queue)) == 1
            if resumed { try await transaction.execute(JobStatements.notify(queues: [queue])) }
            return resumed
        }
    }

    /// Whether daemons are alive and keep up (see `QueueHealth`).
    public func health(maximumWait: Duration) async throws -> QueueHealth {
        try await QueueHealth.read(maximumWait: maximumWait, on: connection)
    }

    /// Counts per queue and state, and how long the oldest ready job has waited.
    public func stats() async throws -> [QueueStats] {
        let rows = try await connection.query(JobStatements.stats)
        var byQueue: [String: QueueStats] = [:]
        for row in rows {
            let queue = try row.decode("queue", as: String.self)
            var stats = byQueue[queue] ?? QueueStats(queue: queue)
            let state = try row.decode("state", as: JobState.self)
            stats.counts[state.rawValue] = try row.decode("jobs", as: Int.self)
            if let seconds = try row.decode("oldest_ready_seconds", as: Double?.self) {
                stats.oldestReadySeconds = max(stats.oldestReadySeconds ?? 0, seconds)
            }
            byQueue[queue] = stats
        }
        return byQueue.values.sorted { $0.queue < $1.queue }
    }

    /// Deletes finished jobs (succeeded, discarded, cancelled) that finished longer than `age`
    /// ago, in batches; returns how many. Their cancel requests go with them (sql/022's trigger).
    public func prune(olderThan age: Duration) async throws -> Int {
        try await PruneJob.prune(olderThan: age, on: connection)
    }
}

/// One queue's numbers.
public struct QueueStats: Sendable, Codable, Equatable {
    public var queue: String
    /// Jobs per state; every state is present.
    public var counts: [String: Int]
    /// How long the oldest job that is due has waited past its run_at (staged or not yet); nil
    /// when none.
    public var oldestReadySeconds: Double?

    init(queue: String) {
        self.queue = queue
        self.counts = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, 0) })
    }

    public func count(_ state: JobState) -> Int { counts[state.rawValue] ?? 0 }
}

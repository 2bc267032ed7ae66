import Foundation
import Logging
import Placement
import Postgres
import Synchronization

/// What a batch reads before it solves: its request, the day, the instance, and how each
/// household looked then (to tell, at write time, which changed).
public struct BatchSnapshot: Sendable {
    public let batchID: Int
    public let period: Int
    public let dryRun: Bool
    /// Seconds the engine may search.
    public let timeLimit: Double
    public let today: CalendarDay
    public let instance: PlacementInstance
    /// `case_fingerprint` (sql/009_batch_jobs.sql) of each pending case, by id.
    let fingerprints: [Int: String]
    /// The latest reception date of each pending case that has one, by id (``DeadlineFirst``).
    let deadlines: [Int: CalendarDay]
    /// The look-ahead: the forecast is `instance.forecast` (``BatchForecast``).
    let lookAhead: BatchForecast.Summary
    /// What the batch counts when capacity is short (its instance's weights).
    let counting: BatchCounting
}

/// What a batch found, stored in `batches.summary` (ids and counts only, no personal data).
public struct BatchSummary: Codable, Sendable, Equatable {
    public struct Unplaced: Codable, Sendable, Equatable {
        public let caseID: Int
        public let reason: String
        enum CodingKeys: String, CodingKey { case caseID = "case_id", reason }
    }

    /// A proposal of a dry run (a real run's proposals are its allocations).
    public struct Proposal: Codable, Sendable, Equatable {
        public let caseID: Int
        public let municipality: String
        public let score: Int
        public let reasons: [String]
        enum CodingKeys: String, CodingKey { case caseID = "case_id", municipality, score, reasons }
    }

    public let cases: Int
    public let municipalities: Int
    public let placed: Int
    public let unplaced: [Unplaced]
    public let proposals: [Proposal]?
    public let seconds: Double
    public let provenOptimal: Bool
    public let timeLimitReached: Bool
    /// What changed under the solve, as the write found it (nil for a dry run, and for batches
    /// run before it existed).
    public let recheck: Recheck?
    /// The deadline rule's first stage (``DeadlineFirst``), when some households were due
    /// before the next batch; nil otherwise and for batches run before it existed.
    public let dueFirst: DueFirst?
    /// The look-ahead (``BatchForecast``); nil for batches run before it existed.
    public let forecast: BatchForecast.Summary?
    /// What the batch counted when capacity was short (the cooperation's setting, sql/020);
    /// nil for batches run before it existed (households).
    public let counts: BatchCounting?

    /// Households due before the next batch, placed first.
    public struct DueFirst: Codable, Sendable, Equatable {
        /// Due before the next batch.
        public var due: Int
        /// Of those, how many got a proposal.
        public var placed: Int
        /// The day the next batch is taken to run on.
        public var nextBatchOn: CalendarDay
        enum CodingKeys: String, CodingKey { case due, placed, nextBatchOn = "next_batch_on" }

        public init(due: Int, placed: Int, nextBatchOn: CalendarDay) {
            self.due = due
            self.placed = placed
            self.nextBatchOn = nextBatchOn
        }
    }

    /// Households that changed while the engine worked.
    public struct Recheck: Codable, Sendable, Equatable {
        /// Proposals dropped: the household was no longer pending (withdrawn, or placed by an
        /// officer or another batch).
        public var dropped: Int
        /// Households re-solved against what was left: their details changed, or their proposal
        /// no longer fitted (capacity taken or lowered meanwhile).
        public var resolved: Int
        /// Of those, how many got a proposal.
        public var resolvedPlaced: Int
        enum CodingKeys: String, CodingKey { case dropped, resolved, resolvedPlaced = "resolved_placed" }
    }

    enum CodingKeys: String, CodingKey {
        case cases, municipalities, placed, unplaced, proposals, seconds, recheck, dueFirst = "due_first", forecast, counts
        case provenOptimal = "proven_optimal", timeLimitReached = "time_limit_reached"
    }
}

/// Runs an allocation batch in three steps, so that no transaction stays open while the engine
/// works and no officer's decision meanwhile makes the batch start again:
///
/// 1. `load`: the batch's request, the day, the pending cases and the capacity left, read in one
///    short REPEATABLE READ READ ONLY transaction (no lock held afterwards);
/// 2. the solve, outside any transaction, on a thread of its own (`Solve`);
/// 3. `write`, in one short transaction (`BatchRecheck`): locks the proposed households and the
///    capacity, drops the proposals for households that are no longer pending, re-solves those
///    whose details changed or whose proposal no longer fits against what is left (once, with
///    a short time limit), writes the proposals (which reserve their capacity) and the batch's
///    result. The caller completes the batch's job in that same transaction: proposals exist
///    exactly when the job succeeded.
public enum BatchRun {
    /// The job kind and its arguments; sql/009_batch_jobs.sql's request_batch() creates such
    /// jobs, so the two must agree (the tests through receptiond would fail otherwise).
    public static let jobKind = "allocation-batch"

    public struct Arguments: Codable, Sendable {
        public let batchID: Int
        /// The batch's time limit in seconds (jobs enqueued before migration 009 have none).
        public let timeLimit: Double?
        enum CodingKeys: String, CodingKey { case batchID = "batch_id", timeLimit = "time_limit" }
        public init(batchID: Int, timeLimit: Double? = nil) {
            self.batchID = batchID
            self.timeLimit = timeLimit
        }
    }

    /// How a batch's instance is solved, by a solver so configured (time limit, stopping, progress).
    public typealias Solve = @Sendable (PlacementInstance, Solver) async throws -> PlacementResult

    /// The engine on a thread of its own; cancelling the task stops it. The batch's solve
    /// improves until its time limit (`.timeLimit`); the write's re-solve of a few changed
    /// households stops when its budgets are spent (`.budget`), since officers wait on its locks.
    public static let solveOnOwnThread: Solve = { instance, solver in
        try await solver.solveOnOwnThread(instance)
    }

    /// How often a running batch publishes its progress (`summary.progress`, read by the
    /// officer waiting in `reception batch run` and by `reception batch show`).
    static let progressInterval: Duration = .seconds(1)

    /// Runs a batch on a connection outside any transaction: marks it running (a commit of its
    /// own, so that officers see it start), loads, solves, writes. The write's transaction
    /// calls `beforeWrite` first and `afterWrite` last: receptiond locks and completes the
    /// batch's job there, so that the proposals and the job's success commit together.
    public static func run(
        batchID: Int, on connection: Connection, logger: Logger, solve: @escaping Solve = solveOnOwnThread,
        beforeWrite: (Connection) async throws -> Void = { _ in }, afterWrite: (Connection) async throws -> Void = { _ in }
    ) async throws -> BatchSummary {
        try await connection.execute("""
            UPDATE batches SET status = 'running', started_at = coalesce(started_at, now())
            WHERE id = \(batchID) AND status = 'queued'
            """)
        let snapshot = try await load(batchID: batchID, on: connection)
        let (result, dueFirst) = try await solvePublishingProgress(snapshot, on: connection, logger: logger, solve: solve)
        let writing = ContinuousClock.now
        let summary = try await connection.withTransaction { transaction in
            try await beforeWrite(transaction)
            let summary = try await write(snapshot, result, dueFirst: dueFirst, on: transaction, logger: logger, solve: solve)
            try await afterWrite(transaction)
            return summary
        }
        // How long the write held its locks, committed: for operators, and scripts/bench-batch-write.
        logger.info("batch written", metadata: [
            "batch.id": "\(batchID)", "batch.proposals": "\(summary.placed)",
            "batch.write_seconds": "\(String(format: "%.3f", (ContinuousClock.now - writing) / .seconds(1)))",
        ])
        return summary
    }

    /// Step 2: the solve (``DeadlineFirst``: households due before the next batch first), while the objective and bound so far are written to the batch's
    /// `summary.progress` once per ``progressInterval`` (one short autocommitted statement, no
    /// lock held meanwhile). Progress that cannot be written is only logged: it never fails a batch.
    static func solvePublishingProgress(
        _ snapshot: BatchSnapshot, on connection: Connection, logger: Logger, solve: @escaping Solve
    ) async throws -> (result: PlacementResult, dueFirst: BatchSummary.DueFirst?) {
        let latest = LatestProgress()
        return try await withThrowingTaskGroup(of: (result: PlacementResult, dueFirst: BatchSummary.DueFirst?)?.self) { group in
            group.addTask {
                defer { latest.finished.store(true, ordering: .relaxed) }
                return try await DeadlineFirst.solve(snapshot, solve: solve) { progress in latest.value.withLock { $0 = progress } }
            }
            // Not cancelled when the solve ends, but told (`finished`): cancelling it inside its
            // UPDATE would cancel that statement on the connection the write needs next.
            group.addTask {
                var published: Solver.Progress?
                var lastWrite = ContinuousClock.now
                while !Task.isCancelled && !latest.finished.load(ordering: .relaxed) {
                    try? await Task.sleep(for: .milliseconds(100))
                    guard ContinuousClock.now - lastWrite >= progressInterval, !latest.finished.load(ordering: .relaxed) else { continue }
                    lastWrite = ContinuousClock.now
                    guard let progress = latest.value.withLock({ $0 }), progress != published, !Task.isCancelled else { continue }
                    published = progress
                    do {
                        try await connection.execute("""
                            UPDATE batches SET summary = summary || jsonb_build_object('progress', jsonb_build_object(
                                   'seconds', \(progress.seconds)::float8, 'objective', \(progress.objective)::bigint,
                                   'bound', \(progress.bound)::bigint))
                             WHERE id = \(snapshot.batchID) AND status = 'running'
                            """)
                    } catch {
                        if !Task.isCancelled { logger.debug("batch progress not written", metadata: ["error": "\(error)"]) }
                    }
                }
                return nil
            }
            var result: (result: PlacementResult, dueFirst: BatchSummary.DueFirst?)?
            for try await finished in group {
                if let finished { result = finished }
            }
            guard let result else { throw CancellationError() }
            return result
        }
    }

    /// The solver's thread writes it, the publishing task reads it.
    private final class LatestProgress: Sendable {
        let value = Mutex<Solver.Progress?>(nil)
        let finished = Atomic<Bool>(false)
    }

    /// Step 1: what the batch will solve. Refuses a batch that does not exist or already ended.
    public static func load(batchID: Int, on connection: Connection) async throws -> BatchSnapshot {
        try await connection.withTransaction(isolation: .repeatableRead, readOnly: true) { connection in
            let batches = try await connection.query("""
                SELECT period, dry_run, status, summary->'municipalities_requested' AS requested,
                       (summary->>'time_limit')::float8 AS time_limit,
                       coalesce((summary->>'look_ahead')::boolean, true) AS look_ahead, (summary->>'expected')::int AS expected,
                       (summary->>'forecast_file')::int AS forecast_file
                FROM batches WHERE id = \(batchID)
                """)
            guard let batch = batches.first else { throw ReceptionError.notFound("no batch with id \(batchID)") }
            try requireUnfinished(batchID, status: try batch.decode("status", as: String.self))
            let period = try batch.decode("period", as: Int.self)
            let requested = try batch.decode("requested", as: JSONValue<[String]>?.self)?.value
            let today = try await ReceptionClock.today(on: connection)
            let counting = try await BatchCounting.current(on: connection)
            let (current, fingerprints, deadlines) = try await BatchInstance.loadWithFingerprints(
                period: period, municipalities: requested, today: today, weights: counting.weights, on: connection)
            // The look-ahead, read in the same snapshot (BatchForecast).
            var instance = current
            let lookAhead: BatchForecast.Summary
            if try batch.decode("look_ahead", as: Bool.self) {
                let built = try await BatchForecast.build(for: current, batchID: batchID, period: period, today: today,
                                                          expected: try batch.decode("expected", as: Int?.self),
                                                          file: try batch.decode("forecast_file", as: Int?.self), on: connection)
                instance.forecast = built.forecast
                lookAhead = built.summary
            } else {
                lookAhead = .off
            }
            return BatchSnapshot(
                batchID: batchID, period: period, dryRun: try batch.decode("dry_run", as: Bool.self),
                timeLimit: try batch.decode("time_limit", as: Double?.self) ?? 30, today: today,
                instance: instance, fingerprints: fingerprints, deadlines: deadlines, lookAhead: lookAhead, counting: counting)
        }
    }

    static func requireUnfinished(_ batchID: Int, status: String) throws {
        guard status == "queued" || status == "running" else {
            throw ReceptionError.refused("batch \(batchID) is already \(status)")
        }
    }

    /// Step 3, in the caller's transaction (READ COMMITTED: what it reads, it locks).
    public static func write(
        _ snapshot: BatchSnapshot, _ result: PlacementResult, dueFirst: BatchSummary.DueFirst? = nil, on connection: Connection, logger: Logger,
        solve: Solve = solveOnOwnThread
    ) async throws -> BatchSummary {
        let batchID = snapshot.batchID
        let locked = try await connection.query("SELECT status FROM batches WHERE id = \(batchID) FOR UPDATE")
        guard let row = locked.first else { throw ReceptionError.notFound("no batch with id \(batchID)") }
        try requireUnfinished(batchID, status: try row.decode("status", as: String.self))
        // A batch of thousands sorts its proposals in memory, not on disk (the default 4 MB
        // spills 20,000 of them); for this transaction only.
        try await connection.execute("SET LOCAL work_mem = '64MB'")

        var proposals = result.assignments
        var unplaced = result.unplaced
        var recheck = BatchSummary.Recheck(dropped: 0, resolved: 0, resolvedPlaced: 0)
        var demand: [Int: [String: Int]] = [:]
        if !snapshot.dryRun && !proposals.isEmpty {
            let checked = try await BatchRecheck.run(snapshot, proposals, on: connection)
            proposals = checked.kept
            demand = checked.demand
            recheck.dropped = checked.dropped
            if !checked.toResolve.isEmpty {
                // Once, against what is left, with a short time limit: never the whole batch again.
                let instance = try await checked.resolveInstance(snapshot, on: connection)
                // The locks are held meanwhile (officers wait): at most 2 s; a handful of households
                // solves in milliseconds.
                let again = try await solve(instance, Solver(timeLimit: min(2, max(0.5, snapshot.timeLimit / 10)), stopping: .budget))
                proposals += again.assignments
                unplaced += again.unplaced
                recheck.resolved = checked.toResolve.count
                recheck.resolvedPlaced = again.assignments.count
            }
        }
        let changed = recheck.dropped + recheck.resolved > 0
        let objective = proposals.reduce(0) { $0 + $1.score }
        logger.info("batch solved", metadata: [
            "batch.id": "\(batchID)", "batch.cases": "\(snapshot.instance.cases.count)",
            "batch.placed": "\(proposals.count)", "batch.objective": "\(objective)",
            "batch.bound": "\(result.bound)", "batch.seconds": "\(result.stats.seconds)",
            "batch.dropped": "\(recheck.dropped)", "batch.resolved": "\(recheck.resolved)",
        ])

        if !snapshot.dryRun && !proposals.isEmpty {
            // One statement for all proposals: the database checks and accounts them once per
            // statement (sql/012_batch_write.sql), taking its locks in its own order. Each carries
            // the demand BatchRecheck read under the lock, which the database compares with
            // case_demands instead of computing it row by row; a re-solved household whose
            // details changed has none, and the database computes it.
            let ordered = proposals.sorted { ($0.municipality, $0.caseID) < ($1.municipality, $1.caseID) }
            let rows = ordered.map { ProposalRow($0, demand: demand[Int($0.caseID) ?? 0]) }
            try await connection.execute("""
                INSERT INTO allocations (case_id, municipality_code, period, status, score, reasons, next_best, batch_id, demand)
                SELECT p.case_id, p.municipality, \(snapshot.period), 'proposed', p.score, coalesce(p.reasons, '{}'),
                       p.next_best, \(batchID), coalesce(p.demand, '{}')
                FROM jsonb_to_recordset(\(JSONValue(rows))) AS p(
                    case_id bigint, municipality text, score int, reasons text[], next_best jsonb, demand jsonb)
                ORDER BY p.municipality, p.case_id
                """)
        }

        let summary = BatchSummary(
            cases: snapshot.instance.cases.count, municipalities: snapshot.instance.municipalities.count,
            placed: proposals.count,
            unplaced: unplaced.map { .init(caseID: Int($0.caseID) ?? 0, reason: $0.reason) },
            proposals: snapshot.dryRun ? proposals.map {
                .init(caseID: Int($0.caseID) ?? 0, municipality: $0.municipality, score: $0.score, reasons: $0.reasons)
            } : nil,
            seconds: result.stats.seconds, provenOptimal: result.stats.provenOptimal && !changed && dueFirst == nil,
            timeLimitReached: result.stats.timeLimitReached,
            recheck: snapshot.dryRun ? nil : recheck, dueFirst: dueFirst,
            forecast: snapshot.lookAhead.with(keptWaiting: unplaced.filter { $0.reason.contains(BatchForecast.keptReason) }.count),
            counts: snapshot.counting)
        // The engine's bound holds for the snapshot; once households changed under the solve it
        // proves nothing about what was written, so none is claimed.
        // The same when the deadline rule split the solve in two (DeadlineFirst).
        let bound: Int? = changed || dueFirst != nil ? nil : result.bound
        try await connection.execute("""
            UPDATE batches
               SET status = 'finished', finished_at = now(), started_at = coalesce(started_at, now()),
                   objective = \(objective), bound = \(bound),
                   summary = (summary - 'progress') || \(JSONValue(summary))
             WHERE id = \(batchID)
            """)
        return summary
    }

    /// One proposal as the INSERT reads it from JSON.
    struct ProposalRow: Codable, Sendable {
        let case_id: Int
        let municipality: String
        let score: Int
        let reasons: [String]
        let next_best: [NextBest]
        /// What the household needs, by dimension (nil: the database computes it).
        let demand: [String: Int]?

        struct NextBest: Codable, Sendable {
            let municipality: String
            let score: Int
            let difference: Int
        }

        init(_ assignment: PlacementResult.Assignment, demand: [String: Int]? = nil) {
            case_id = Int(assignment.caseID) ?? 0
            municipality = assignment.municipality
            score = assignment.score
            reasons = assignment.reasons
            next_best = assignment.nextBest.map { [NextBest(municipality: $0.municipality, score: $0.score, difference: $0.scoreDifference)] } ?? []
            self.demand = demand
        }
    }
}

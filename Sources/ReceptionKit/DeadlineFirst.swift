import Placement
import Postgres

/// The batch's deadline rule (issue 11 §1, README "Deadlines"): a household whose latest
/// reception date falls before the next batch is placed before any other, wherever it fits.
///
/// The next batch is taken to be a week away (`horizonDays`), the rhythm Umeåregionen runs.
/// The rule is lexicographic, so it is solved in two stages with the same engine:
/// 1. the due households, against all the capacity left (the engine maximises their score, so
///    it places as many of them as it can, longest waiting first; a look-ahead batch also
///    chooses where by looking ahead: ``placeDue``);
/// 2. everyone else, against what stage 1 left.
/// A due household stage 1 cannot place is named in the batch's result with the reason and its
/// date. The two stages together prove no optimality bound for the whole batch (stage 1's
/// choice among equally good placements can cost stage 2), so the batch claims none.
public enum DeadlineFirst {
    /// Days to the next batch: a household due before then is placed first.
    public static let horizonDays = 7
    /// Stage 1's share of the batch's time limit.
    static let dueShare = 0.25

    /// Stage 1. Without a forecast: the due households alone. With one (a look-ahead batch), the
    /// due households are also solved looking ahead at everyone who comes after them — the
    /// batch's other households and the forecast — so that among the places they fit, they take
    /// those the others need least (``Solver/currentFirst``). That answer is kept only when it
    /// receives every due household that the solve of them alone receives: looking ahead
    /// chooses *where*, never *whether* (nor *which*: one due household is never left for
    /// another because that suits those who come later).
    static func placeDue(
        _ due: PlacementInstance, after rest: [PlacementInstance.Case], forecast: [PlacementInstance.Case],
        timeLimit: Double, solve: BatchRun.Solve
    ) async throws -> PlacementResult {
        guard !forecast.isEmpty else { return try await solve(due, Solver(timeLimit: timeLimit, stopping: .timeLimit)) }
        let alone = try await solve(due, Solver(timeLimit: timeLimit / 2, stopping: .timeLimit))
        var ahead = due
        ahead.forecast = rest + forecast
        var first = Solver(timeLimit: timeLimit / 2, stopping: .timeLimit)
        first.currentFirst = true
        let looking = try await solve(ahead, first)
        let received = Set(looking.assignments.map(\.caseID))
        return alone.assignments.allSatisfy { received.contains($0.caseID) } ? looking : alone
    }

    /// The ids of the households whose latest reception date falls before `nextBatch`.
    static func due(_ deadlines: [String: CalendarDay], nextBatch: CalendarDay) -> Set<String> {
        Set(deadlines.compactMap { id, latest in latest < nextBatch ? id : nil })
    }

    /// The batch's solve under the rule, for a batch loaded from the database.
    static func solve(
        _ snapshot: BatchSnapshot, solve: BatchRun.Solve, progress: (@Sendable (Solver.Progress) -> Void)?
    ) async throws -> (result: PlacementResult, dueFirst: BatchSummary.DueFirst?) {
        let deadlines = Dictionary(uniqueKeysWithValues: snapshot.deadlines.map { (String($0.key), $0.value) })
        return try await Self.solve(snapshot.instance, today: snapshot.today, deadlines: deadlines, horizonDays: horizonDays,
                                    timeLimit: snapshot.timeLimit, solve: solve, progress: progress)
    }

    /// The solve under the rule, the next batch `horizonDays` after `today`; `deadlines` holds
    /// the latest reception date of each case that has one, by case id. A batch with no due
    /// household is one plain solve. Returns the combined result and, when the rule applied,
    /// what its first stage did (the result's bound then holds for neither stage's
    /// combination: the batch claims none).
    static func solve(
        _ instance: PlacementInstance, today: CalendarDay, deadlines: [String: CalendarDay], horizonDays: Int,
        timeLimit: Double, solve: BatchRun.Solve, progress: (@Sendable (Solver.Progress) -> Void)?
    ) async throws -> (result: PlacementResult, dueFirst: BatchSummary.DueFirst?) {
        let nextBatch = today.adding(days: horizonDays) ?? today
        let due = due(deadlines, nextBatch: nextBatch)
        let first = instance.cases.filter { due.contains($0.id) }
        guard !first.isEmpty else {
            return (try await solve(instance, Solver(timeLimit: timeLimit, stopping: .timeLimit, progress: progress)), nil)
        }
        let rest = instance.cases.filter { !due.contains($0.id) }
        let dueInstance = PlacementInstance(weights: instance.weights, municipalities: instance.municipalities, cases: first)
        let firstLimit = rest.isEmpty ? timeLimit : max(0.5, timeLimit * dueShare)
        let stage1 = try await placeDue(dueInstance, after: rest, forecast: instance.forecast, timeLimit: firstLimit, solve: solve)

        // What stage 1 leaves.
        var left = Dictionary(uniqueKeysWithValues: instance.municipalities.map { ($0.code, $0.capacity) })
        let byID = Dictionary(uniqueKeysWithValues: first.map { ($0.id, $0) })
        for assignment in stage1.assignments {
            guard let household = byID[assignment.caseID] else { continue }
            for (dimension, units) in Demand.of(household) {
                left[assignment.municipality]?[dimension, default: 0] -= units
            }
        }
        let remaining = instance.municipalities.map { municipality in
            PlacementInstance.Municipality(code: municipality.code, name: municipality.name,
                                           capacity: (left[municipality.code] ?? [:]).mapValues { max(0, $0) },
                                           languages: municipality.languages, shortageOccupations: municipality.shortageOccupations)
        }
        let restInstance = PlacementInstance(weights: instance.weights, municipalities: remaining, cases: rest,
                                             forecast: instance.forecast)
        let offset = stage1.objective, firstSeconds = stage1.stats.seconds
        var shifted: (@Sendable (Solver.Progress) -> Void)?
        if let progress {
            // Stage 2's figures as the batch's: its score on top of stage 1's; no bound (see above).
            shifted = { stage in
                progress(Solver.Progress(seconds: firstSeconds + stage.seconds, objective: stage.objective + offset, bound: 0))
            }
        }
        let stage2 = try await solve(restInstance, Solver(timeLimit: max(0.5, timeLimit - firstLimit), stopping: .timeLimit, progress: shifted))

        let late = stage1.unplaced.map { unplaced in
            let date = deadlines[unplaced.caseID].map { " (\($0))" } ?? ""
            return PlacementResult.Unplaced(
                caseID: unplaced.caseID,
                reason: "cannot be received by its latest reception date\(date): \(unplaced.reason)")
        }
        var stats = stage2.stats
        stats.seconds = stage1.stats.seconds + stage2.stats.seconds
        stats.provenOptimal = false
        stats.timeLimitReached = stage1.stats.timeLimitReached || stage2.stats.timeLimitReached
        let combined = PlacementResult(
            objective: stage1.objective + stage2.objective, bound: stage1.bound + stage2.bound,
            assignments: stage1.assignments + stage2.assignments, unplaced: late + stage2.unplaced, stats: stats)
        return (combined, BatchSummary.DueFirst(due: first.count, placed: stage1.assignments.count, nextBatchOn: nextBatch))
    }
}

import Placement
import Postgres

/// `reception simulate` (issue 11 §4): a reception year replayed in batches every
/// `Settings.every` days under the municipalities' plans and the deadline rule, once plainly and
/// once with look-ahead, against the hindsight optimum (the whole year's anvisningar placed at
/// once against the whole year's quota). In memory only, the engine on threads of its own.
///
/// Each batch is what a batch on the database is, with the same rules (one definition each):
/// - the households with an anvisning on or before the batch's day and not yet placed, each
///   waiting since it arrived (waiting_days on the batch's day);
/// - each municipality's capacity: what its plan has released by that day
///   (``CapacityPlan/released(_:quota:by:)``) less what earlier batches used;
/// - ``DeadlineFirst``: households due before the next batch are placed first;
/// - with look-ahead, ``BatchForecast``'s forecast: the last 12 months of anvisningar
///   (the year before, then this year's so far) resampled, as many as its rule expects.
/// One difference: the deadline rule's next batch is `Settings.every` days away (batches on
/// the database take a week).
/// A proposal is taken as received on the batch's day (an officer confirms it).
///
/// Score: every placement is valued at the hindsight instance's scores (waiting counted to the
/// anvisning), so that the three are comparable and waiting longer earns nothing.
public enum YearSimulation {
    public struct Settings: Sendable {
        /// Days from one batch to the next (and the deadline rule's horizon).
        public var every: Int
        /// Seconds each batch's solve may take at most; it ends earlier when the engine's search
        /// budgets are spent, so the same year gives the same figures.
        public var timeLimit: Double
        /// Whether batches put households due before the next batch first (``DeadlineFirst``),
        /// as every batch on the database does; off only to measure what the rule costs.
        public var deadlineRule: Bool

        public init(every: Int = 7, timeLimit: Double = 10, deadlineRule: Bool = true) {
            self.every = every
            self.timeLimit = timeLimit
            self.deadlineRule = deadlineRule
        }
    }

    public enum Strategy: String, Sendable, CaseIterable, Codable {
        case plain
        case lookAhead = "look_ahead"
    }

    /// Households and persons received in a month.
    public struct Month: Codable, Sendable, Equatable {
        public var households = 0
        public var persons = 0
    }

    /// What one way of running the year's batches achieved.
    public struct Replay: Sendable, Encodable {
        public var strategy: Strategy
        /// Sum of the placements' scores at the hindsight instance's scores.
        public var score: Int
        public var householdsPlaced: Int
        public var personsPlaced: Int
        /// Placed after their latest reception date.
        public var receivedLate: Int
        /// Due before a batch's next batch and left waiting by it although what was released and
        /// free after it would have held them somewhere they may go (received late or never): the
        /// deadline rule failed, or was off (`Settings.deadlineRule`).
        public var lateDespiteCapacity: Int
        /// Still waiting when the year ends, and of those how many past their latest date.
        public var waitingAtEnd: Int
        public var overdueAtEnd: Int
        /// Households the deadline rule's first stage placed.
        public var placedDueFirst: Int
        /// Batches that had a forecast, and households left waiting for expected arrivals
        /// (summed over the batches: a household kept twice counts twice).
        public var batchesWithForecast: Int
        public var keptForExpected: Int
        /// Per municipality (in the year's order), January first.
        public var intake: [[Month]]
        /// Invariants broken: a municipality over what its plan had released, a household
        /// proposed twice or not waiting. Empty, or the simulation is wrong.
        public var violations: [String]

        enum CodingKeys: String, CodingKey {
            case strategy, score, householdsPlaced = "households_placed", personsPlaced = "persons_placed"
            case receivedLate = "received_late", lateDespiteCapacity = "late_despite_capacity"
            case waitingAtEnd = "waiting_at_end", overdueAtEnd = "overdue_at_end", placedDueFirst = "placed_due_first"
            case batchesWithForecast = "batches_with_forecast", keptForExpected = "kept_for_expected", violations
        }
    }

    public struct Hindsight: Sendable, Encodable {
        public var objective: Int
        /// Proven: no placement of the whole year scores more.
        public var bound: Int
        public var householdsPlaced: Int
        public var personsPlaced: Int
        enum CodingKeys: String, CodingKey {
            case objective, bound, householdsPlaced = "households_placed", personsPlaced = "persons_placed"
        }
    }

    public struct Outcome: Sendable {
        public var year: SimulatedYear
        public var settings: Settings
        public var batchDays: [CalendarDay]
        public var hindsight: Hindsight
        public var plain: Replay
        public var lookAhead: Replay
        public var seconds: Double

        public func share(_ replay: Replay) -> Double { hindsight.objective > 0 ? Double(replay.score) / Double(hindsight.objective) : 1 }
        /// Share of the plain batches' gap to hindsight that the look-ahead closes.
        public var gapClosed: Double {
            hindsight.objective > plain.score ? Double(lookAhead.score - plain.score) / Double(hindsight.objective - plain.score) : 1
        }
    }

    /// Which strategy is at which batch, for a progress line.
    public typealias Progress = @Sendable (_ strategy: Strategy, _ batch: Int, _ of: Int) -> Void

    /// The days of the period's batches: 1 January, then every `every` days.
    public static func batchDays(period: Int, every: Int) -> [CalendarDay] {
        var days: [CalendarDay] = []
        var day = CalendarDay(year: period, month: 1, day: 1)!
        while day.year == period {
            days.append(day)
            guard let next = day.adding(days: max(1, every)) else { break }
            day = next
        }
        return days
    }

    /// `solve` is the engine (the tests give it a faulty one, to see the invariants fire).
    public static func run(_ year: SimulatedYear, settings: Settings = Settings(), progress: Progress? = nil,
                           solve: @escaping BatchRun.Solve = solve) async throws -> Outcome {
        let started = ContinuousClock.now
        let days = batchDays(period: year.period, every: settings.every)
        let whole = hindsightInstance(year)
        let scores = PlacementScores(whole)
        async let hindsight = Solver(timeLimit: 4 * settings.timeLimit, effort: 4).solveOnOwnThread(whole)
        async let plain = replay(year, strategy: .plain, days: days, settings: settings, scores: scores, progress: progress, solve: solve)
        async let ahead = replay(year, strategy: .lookAhead, days: days, settings: settings, scores: scores, progress: progress, solve: solve)
        let best = try await hindsight
        let persons = Dictionary(uniqueKeysWithValues: year.households.enumerated().map { (String($0.offset), $0.element.persons) })
        let outcome = Hindsight(objective: best.objective, bound: best.bound, householdsPlaced: best.assignments.count,
                                personsPlaced: best.assignments.reduce(0) { $0 + (persons[$1.caseID] ?? 0) })
        return Outcome(year: year, settings: settings, batchDays: days, hindsight: outcome,
                       plain: try await plain, lookAhead: try await ahead,
                       seconds: (ContinuousClock.now - started) / .seconds(1))
    }

    /// The whole year at once: every anvisning (id: its position), waiting counted to its
    /// anvisning, against the whole quota.
    static func hindsightInstance(_ year: SimulatedYear) -> PlacementInstance {
        let cases = year.households.enumerated().map { index, household -> PlacementInstance.Case in
            var engine = household.household
            engine.id = String(index)
            engine.waitingDays = household.waitingDays(on: household.anvisningOn)
            return engine
        }
        return PlacementInstance(weights: year.weights, municipalities: year.municipalities.map(\.municipality), cases: cases)
    }

    /// The solve of each batch: on a thread of its own, until the engine's budgets are spent.
    public static let solve: BatchRun.Solve = { instance, solver in
        var budgeted = solver
        budgeted.stopping = .budget
        budgeted.progress = nil
        return try await budgeted.solveOnOwnThread(instance)
    }

    /// `scores`: the hindsight instance's, which value every placement.
    static func replay(_ year: SimulatedYear, strategy: Strategy, days: [CalendarDay], settings: Settings,
                       scores: PlacementScores, progress: Progress?, solve: BatchRun.Solve) async throws -> Replay {
        let households = year.households
        let municipalities = year.municipalities
        let position = Dictionary(municipalities.enumerated().map { ($1.code, $0) }, uniquingKeysWith: { first, _ in first })
        let demand = households.map { Demand.of($0.household) }
        let earlier = year.history + households

        var used = [[String: Int]](repeating: [:], count: municipalities.count)
        var receivedOn = [CalendarDay?](repeating: nil, count: households.count)
        var receivedIn = [Int](repeating: -1, count: households.count)
        var waiting: [Int] = []
        var arrived = 0
        var lateDespiteCapacity = Set<Int>()
        var result = Replay(strategy: strategy, score: 0, householdsPlaced: 0, personsPlaced: 0, receivedLate: 0,
                            lateDespiteCapacity: 0, waitingAtEnd: 0, overdueAtEnd: 0, placedDueFirst: 0,
                            batchesWithForecast: 0, keptForExpected: 0,
                            intake: Array(repeating: Array(repeating: Month(), count: 12), count: municipalities.count),
                            violations: [])

        func free(_ m: Int, _ dimension: String, on day: CalendarDay) -> Int {
            municipalities[m].released(dimension, by: day) - used[m][dimension, default: 0]
        }

        for (index, day) in days.enumerated() {
            try Task.checkCancellation()
            progress?(strategy, index + 1, days.count)
            while arrived < households.count && households[arrived].anvisningOn <= day {
                waiting.append(arrived)
                arrived += 1
            }
            guard !waiting.isEmpty else { continue }

            let available = municipalities.indices.map { m -> PlacementInstance.Municipality in
                var municipality = municipalities[m].municipality
                municipality.capacity = municipality.capacity.keys.reduce(into: [:]) { $0[$1] = max(0, free(m, $1, on: day)) }
                return municipality
            }
            let cases = waiting.map { i -> PlacementInstance.Case in
                var engine = households[i].household
                engine.id = String(i)
                engine.waitingDays = households[i].waitingDays(on: day)
                return engine
            }
            var instance = PlacementInstance(weights: year.weights, municipalities: available, cases: cases)
            if strategy == .lookAhead, let from = day.adding(days: -365) {
                let history = earlier.filter { $0.anvisningOn > from && $0.anvisningOn <= day }.map(\.household)
                let remaining = municipalities.indices.reduce(0) { sum, m in
                    sum + max(0, (municipalities[m].municipality.capacity["persons"] ?? 0) - used[m]["persons", default: 0])
                }
                let drawn = BatchForecast.draw(from: history, waiting: cases, freePersons: remaining,
                                               daysLeft: day.days(until: CalendarDay(year: year.period, month: 12, day: 31)!),
                                               expected: nil, seed: index + 1)
                instance.forecast = drawn.forecast
                if drawn.summary.used { result.batchesWithForecast += 1 }
            }
            let deadlines = settings.deadlineRule
                ? Dictionary(uniqueKeysWithValues: waiting.map { (String($0), households[$0].latestOn) }) : [:]
            let (placement, dueFirst) = try await DeadlineFirst.solve(
                instance, today: day, deadlines: deadlines, horizonDays: settings.every, timeLimit: settings.timeLimit,
                solve: solve, progress: nil)
            result.placedDueFirst += dueFirst?.placed ?? 0
            result.keptForExpected += placement.unplaced.filter { $0.reason.contains(BatchForecast.keptReason) }.count

            let waitingNow = Set(waiting)
            var placedNow = Set<Int>()
            for assignment in placement.assignments {
                guard let i = Int(assignment.caseID), waitingNow.contains(i), placedNow.insert(i).inserted,
                      let m = position[assignment.municipality] else {
                    result.violations.append("\(day): a proposal for a household that was not waiting, or proposed twice (\(assignment.caseID))")
                    continue
                }
                receivedOn[i] = day
                receivedIn[i] = m
                for (dimension, units) in demand[i] { used[m][dimension, default: 0] += units }
            }
            for m in municipalities.indices {
                for (dimension, units) in used[m] where units > municipalities[m].released(dimension, by: day) {
                    result.violations.append("\(day): \(municipalities[m].code) uses \(units) \(dimension), its plan has released \(municipalities[m].released(dimension, by: day))")
                }
            }
            waiting.removeAll { placedNow.contains($0) }

            // The deadline rule's promise: a household due before the next batch and still
            // waiting must not have fitted anywhere it may go.
            let nextBatch = day.adding(days: settings.every) ?? day
            for i in waiting where households[i].latestOn < nextBatch && !lateDespiteCapacity.contains(i) {
                let excluded = Set(households[i].household.excluded)
                let fits = municipalities.indices.contains { m in
                    !excluded.contains(municipalities[m].code) && scores.score(case: i, in: municipalities[m].code) != nil
                        && demand[i].allSatisfy { dimension, units in units <= free(m, dimension, on: day) }
                }
                if fits { lateDespiteCapacity.insert(i) }
            }
        }

        let end = CalendarDay(year: year.period, month: 12, day: 31)!
        for i in households.indices {
            guard let day = receivedOn[i] else {
                result.waitingAtEnd += 1
                if households[i].latestOn <= end { result.overdueAtEnd += 1 }
                continue
            }
            let m = receivedIn[i]
            result.householdsPlaced += 1
            result.personsPlaced += households[i].persons
            if day > households[i].latestOn { result.receivedLate += 1 }
            result.intake[m][day.month - 1].households += 1
            result.intake[m][day.month - 1].persons += households[i].persons
            if let score = scores.score(case: i, in: municipalities[m].code) {
                result.score += score
            } else {
                result.violations.append("household \(i) placed in \(municipalities[m].code), where the year does not allow it")
            }
        }
        result.lateDespiteCapacity = lateDespiteCapacity.count
        return result
    }
}

/// The look-ahead benchmark (issue 10 §3): a reception year of a generated region replayed in
/// weekly batches, with and without a forecast, against placing the whole year at once in
/// hindsight.
///
/// - The year: ``InstanceGenerator/generateWithLayout(kind:cases:seed:)`` (`.region`), its
///   capacity scaled so that persons capacity is `capacityShare` of what the year's households
///   need (the other dimensions keep their relative tightness). Each household arrives in a
///   week drawn uniformly; its generated `waiting_days` is what it had waited at arrival.
/// - A week's batch: the households that arrived that week and those still waiting, each with
///   `waiting_days` = waited at arrival + 7 × weeks since; the capacity the earlier batches left.
///   A household placed is gone; one left waits for the next week.
/// - The forecast of week w: an independent draw (``InstanceGenerator/households(_:seed:layout:idPrefix:)``,
///   its own seed per week) of as many households as are expected in the weeks after w, with
///   the waiting they would have at arrival. The last week has none.
/// - Value: every household placed during the year counts its score in the hindsight instance
///   (waiting at arrival, so that leaving households waiting earns nothing), and the hindsight
///   optimum is approached by one solve of the whole year (its bound is reported too).
public enum YearReplay {
    public struct Outcome: Sendable, Equatable {
        public var households: Int
        /// The whole year at once: objective (and its proven bound).
        public var hindsight: Int
        public var hindsightBound: Int
        public var hindsightPlaced: Int
        /// Weekly batches without a forecast.
        public var plain: Int
        public var plainPlaced: Int
        /// Weekly batches with a forecast.
        public var lookAhead: Int
        public var lookAheadPlaced: Int

        /// Share of the plain batches' gap to hindsight that the look-ahead closes.
        public var closed: Double { hindsight > plain ? Double(lookAhead - plain) / Double(hindsight - plain) : 1 }
        public var lookAheadShare: Double { hindsight > 0 ? Double(lookAhead) / Double(hindsight) : 1 }
        public var plainShare: Double { hindsight > 0 ? Double(plain) / Double(hindsight) : 1 }
    }

    /// A generated year: the whole year's households and capacity (the hindsight instance), the
    /// layout to draw forecasts from, and each household's week of arrival.
    public static func year(households count: Int = 500, seed: UInt64, weeks: Int = 52, capacityShare: Double = 0.85)
        -> (instance: PlacementInstance, layout: InstanceGenerator.Layout, arrival: [Int]) {
        let generated = InstanceGenerator.generateWithLayout(kind: .region, cases: count, seed: seed)
        var year = generated.instance
        // Capacity: persons at capacityShare of the need, every dimension by the same factor.
        let personsNeed = year.cases.reduce(0) { $0 + $1.members.count }
        let personsCapacity = year.municipalities.reduce(0) { $0 + ($1.capacity["persons"] ?? 0) }
        let factor = personsCapacity > 0 ? capacityShare * Double(personsNeed) / Double(personsCapacity) : 0
        for m in year.municipalities.indices {
            year.municipalities[m].capacity = year.municipalities[m].capacity.mapValues { Int((Double($0) * factor).rounded(.down)) }
        }
        var rng = SplitMix64(seed: seed ^ 0x5EA5_0E5A_11CE_D00D)
        let arrival = year.cases.map { _ in rng.below(weeks) }
        return (year, generated.layout, arrival)
    }

    /// Replays the year of ``year(households:seed:weeks:capacityShare:)`` with `solver`. The
    /// hindsight solve gets four times its effort (and time), so that the reference is not the
    /// weaker side of the comparison.
    public static func run(households count: Int = 500, seed: UInt64, weeks: Int = 52, capacityShare: Double = 0.85,
                           solver: Solver = Solver(timeLimit: 60)) -> Outcome {
        let (year, layout, arrival) = Self.year(households: count, seed: seed, weeks: weeks, capacityShare: capacityShare)
        let hindsightResult = Solver(timeLimit: 4 * solver.timeLimit, effort: 4 * solver.effort).solve(year)
        let scored = Problem(year)
        func value(_ placed: [(Int, String)]) -> Int {
            let muni = Dictionary(uniqueKeysWithValues: year.municipalities.enumerated().map { ($1.code, Int32($0)) })
            return placed.reduce(0) { sum, item in
                let p = scored.pair(item.0, muni[item.1]!)
                precondition(p >= 0, "a replayed placement the year does not allow")
                return sum + scored.pairScore[p]
            }
        }

        func replay(lookAhead: Bool) -> [(Int, String)] {
            var municipalities = year.municipalities
            var waiting: [Int] = []
            var placed: [(Int, String)] = []
            let index = Dictionary(uniqueKeysWithValues: year.cases.enumerated().map { ($1.id, $0) })
            let position = Dictionary(uniqueKeysWithValues: municipalities.enumerated().map { ($1.code, $0) })
            for week in 0..<weeks {
                waiting += year.cases.indices.filter { arrival[$0] == week }
                let cases = waiting.map { c -> PlacementInstance.Case in
                    var h = year.cases[c]
                    h.waitingDays += 7 * (week - arrival[c])
                    return h
                }
                var forecast: [PlacementInstance.Case] = []
                if lookAhead {
                    let expected = Int((Double(count) * Double(weeks - 1 - week) / Double(weeks)).rounded())
                    forecast = InstanceGenerator.households(expected, seed: seed &* 1_000_003 &+ UInt64(week) &+ 0xF0CA,
                                                            layout: layout, idPrefix: "FORECAST-\(week)-")
                }
                let batch = PlacementInstance(weights: year.weights, municipalities: municipalities, cases: cases, forecast: forecast)
                let result = solver.solve(batch)
                var done = Set<Int>()
                for a in result.assignments {
                    let c = index[a.caseID]!
                    let m = position[a.municipality]!
                    for (dimension, units) in Demand.of(year.cases[c]) {
                        municipalities[m].capacity[dimension, default: 0] -= units
                        precondition(municipalities[m].capacity[dimension]! >= 0, "a batch overbooked")
                    }
                    placed.append((c, a.municipality))
                    done.insert(c)
                }
                waiting.removeAll { done.contains($0) }
            }
            return placed
        }

        let plain = replay(lookAhead: false)
        let ahead = replay(lookAhead: true)
        return Outcome(households: count,
                       hindsight: hindsightResult.objective, hindsightBound: hindsightResult.bound,
                       hindsightPlaced: hindsightResult.assignments.count,
                       plain: value(plain), plainPlaced: plain.count,
                       lookAhead: value(ahead), lookAheadPlaced: ahead.count)
    }
}

import Foundation
import Placement
import Postgres

/// A reception year to replay (``YearSimulation``): the cooperation's municipalities with their
/// quotas and plans, the period's anvisningar, and the arrivals of the year before, which only a
/// look-ahead reads (it resamples the last 12 months). Held in memory only: a simulation never
/// reads or writes a live case.
public struct SimulatedYear: Sendable {
    public struct Household: Sendable {
        /// The engine's view. Its `waitingDays` is not used: a batch computes it from
        /// `arrivedOn` on its own day, as a batch on the database does.
        public var household: PlacementInstance.Case
        public var arrivedOn: CalendarDay
        public var anvisningOn: CalendarDay
        public var latestOn: CalendarDay
        public var category: CaseCategory

        public var persons: Int { household.members.count }

        func waitingDays(on day: CalendarDay) -> Int { max(0, arrivedOn.days(until: day)) }
    }

    public struct Municipality: Sendable {
        /// Its `capacity` is the period's quota, per dimension.
        public var municipality: PlacementInstance.Municipality
        /// The releases of each dimension's quota; a dimension without any is released whole.
        public var plan: [String: [CapacityPlan.Release]]

        public var code: String { municipality.code }

        /// What the plan has released of `dimension` by `day` (``CapacityPlan/released(_:quota:by:)``).
        func released(_ dimension: String, by day: CalendarDay) -> Int {
            CapacityPlan.released(plan[dimension] ?? [], quota: municipality.capacity[dimension] ?? 0, by: day)
        }
    }

    public var period: Int
    public var weights: PlacementInstance.Weights
    public var municipalities: [Municipality]
    /// The period's anvisningar, in order of anvisning.
    public var households: [Household]
    /// Anvisningar before the period, for the look-ahead's history.
    public var history: [Household]
    /// Where the year comes from, in words.
    public var source: String

    public init(period: Int, weights: PlacementInstance.Weights, municipalities: [Municipality],
                households: [Household], history: [Household], source: String) {
        self.period = period
        self.weights = weights
        self.municipalities = municipalities
        self.households = households.enumerated().sorted { ($0.element.anvisningOn, $0.offset) < ($1.element.anvisningOn, $1.offset) }.map(\.element)
        self.history = history
        self.source = source
    }

    /// Umeåregionen with Örnsköldsvik, which is joining; sizes are each municipality's relative
    /// share of the cooperation's intake (Umeå's population is about twice Örnsköldsvik's and
    /// twenty times Vännäs's; the small municipalities take more than their population's share).
    public static let umeåregionen: [InstanceGenerator.Member] = [
        .init(code: "2480", name: "Umeå", size: 10), .init(code: "2284", name: "Örnsköldsvik", size: 4.3),
        .init(code: "2460", name: "Vännäs", size: 1.0), .init(code: "2401", name: "Nordmaling", size: 0.9),
        .init(code: "2409", name: "Robertsfors", size: 0.9), .init(code: "2404", name: "Vindeln", size: 0.8),
        .init(code: "2403", name: "Bjurholm", size: 0.5),
    ]

    /// Share of generated anvisningar that are quota refugees, and under temporary protection.
    static let quotaRefugeeShare = 0.15, temporaryProtectionShare = 0.10
    /// A quota refugee's anvisning names a later date: this many months after it.
    static let quotaRefugeeMonths = 4

    /// A generated Umeåregionen year: `households` anvisningar spread over the period (each with
    /// the time it had already waited in the Migration Agency's accommodation), a quota with
    /// persons capacity for `capacityShare` of their members (every dimension scaled alike), and
    /// a plan per municipality — persons, school and preschool places released month by month,
    /// dwellings quarter by quarter, specialised capacity whole. The year before gets as many
    /// anvisningar of its own, an independent draw of the same population. The same arguments
    /// give the same year.
    public static func generated(households count: Int = 500, seed: UInt64 = 1, period: Int, capacityShare: Double = 0.85) -> SimulatedYear {
        let generated = InstanceGenerator.generateWithLayout(kind: .region, cases: count, seed: seed, members: umeåregionen)
        let personsNeed = generated.instance.cases.reduce(0) { $0 + $1.members.count }
        let personsCapacity = generated.instance.municipalities.reduce(0) { $0 + ($1.capacity["persons"] ?? 0) }
        let factor = personsCapacity > 0 ? capacityShare * Double(personsNeed) / Double(personsCapacity) : 0
        let municipalities = generated.instance.municipalities.map { municipality -> Municipality in
            var municipality = municipality
            municipality.capacity = municipality.capacity.mapValues { Int((Double($0) * factor).rounded(.down)) }.filter { $0.value > 0 }
            return Municipality(municipality: municipality, plan: generatedPlan(municipality.capacity, period: period))
        }
        var rng = SplitMix64(seed: seed &* 0x5EA5_0E5A_11CE_D00D &+ 7)
        func anvisning(_ household: PlacementInstance.Case, in year: Int) -> Household {
            let first = CalendarDay(year: year, month: 1, day: 1)!
            let days = first.days(until: CalendarDay(year: year + 1, month: 1, day: 1)!)
            let on = first.adding(days: rng.below(days))!
            let roll = rng.unit()
            let category: CaseCategory = roll < quotaRefugeeShare ? .quotaRefugee
                : roll < quotaRefugeeShare + temporaryProtectionShare ? .temporaryProtection : .agencyAccommodation
            let latest = category == .quotaRefugee ? on.adding(months: quotaRefugeeMonths)! : NewCase.defaultLatestReception(after: on)
            return Household(household: household, arrivedOn: on.adding(days: -household.waitingDays) ?? on,
                             anvisningOn: on, latestOn: latest, category: category)
        }
        let year = generated.instance.cases.map { anvisning($0, in: period) }
        let before = InstanceGenerator.households(count, seed: seed &+ 0x4157_0125, layout: generated.layout, idPrefix: "EARLIER-")
            .map { anvisning($0, in: period - 1) }
        return SimulatedYear(period: period, weights: generated.instance.weights, municipalities: municipalities,
                             households: year, history: before,
                             source: "a generated Umeåregionen year (\(count) anvisningar, seed \(seed), capacity for \(Int((capacityShare * 100).rounded()))% of their persons)")
    }

    /// This year with its anvisningar replaced by a file's (the case import's CSV or JSON,
    /// README "Import format"): rows with an anvisning in the period are replayed, earlier ones
    /// are the history a look-ahead resamples, later ones are refused. Family ties, wishes and
    /// exclusions must name the year's municipalities. Every problem is reported with its line
    /// (or JSON path) and field; nothing is replayed from a file with any.
    public func withArrivals(_ data: [UInt8], format: CaseImport.Format, file: String) throws -> SimulatedYear {
        let codes = Set(municipalities.map(\.code))
        var dimensions = Set(Demand.computedDimensions)
        for municipality in municipalities { dimensions.formUnion(municipality.municipality.capacity.keys) }
        let last = CalendarDay(year: period, month: 12, day: 31)!
        // The import's "today" is here the period's last day: a date after it is after the period.
        var rules = CaseRules(knownDimensions: dimensions, today: last)
        rules.beyondToday = "is after the simulated period (\(period))"
        let contents = CaseImport.read(data, format: format, rules: rules)
        var problems = contents.problems
        var replayed: [Household] = [], earlier: [Household] = []
        for entry in contents.entries {
            let new = entry.newCase
            let before = problems.count
            // The import would take the arrival's date (or today's); a replay needs the day each
            // household was assigned.
            if !new.anvisningGiven {
                problems.append(ValidationProblem(entry.location, field: "anvisning",
                                                  reason: "no anvisning date: a simulation needs the day each household was assigned"))
            }
            for (field, named) in [("family_ties", new.familyTies), ("preferences", new.preferences), ("excluded", new.excluded)] {
                for code in named where !codes.contains(code) {
                    problems.append(ValidationProblem(entry.location, field: field,
                        reason: "\(CaseFieldRules.quoted(code)) is not a municipality of the simulated cooperation (\(municipalities.map(\.code).joined(separator: ", ")))"))
                }
            }
            guard problems.count == before else { continue }
            let household = Household(
                household: PlacementInstance.Case(
                    id: new.reference, ages: new.ages,
                    needs: Dictionary(new.needs.map { ($0.dimension, $0.units) }, uniquingKeysWith: +),
                    language: new.language, occupations: new.occupations, familyTies: new.familyTies,
                    preferences: new.preferences, excluded: new.excluded),
                // No arrival date (the import's default is "today", here the period's end): the anvisning's.
                arrivedOn: min(new.arrivedOn, new.anvisningOn), anvisningOn: new.anvisningOn, latestOn: new.latestReception, category: new.category)
            if new.anvisningOn.year == period {
                replayed.append(household)
            } else {
                earlier.append(household)
            }
        }
        if replayed.isEmpty && problems.isEmpty {
            problems.append(ValidationProblem(.file, field: "anvisning", reason: "no anvisning in \(period): nothing to replay (earlier rows are only history)"))
        }
        if !problems.isEmpty { throw InvalidInput(CaseImport.sorted(problems)) }
        return SimulatedYear(period: period, weights: weights, municipalities: municipalities, households: replayed,
                             history: earlier, source: "the \(replayed.count) anvisningar of \(file), against the quotas and plans of \(source)")
    }

    /// Persons, school and preschool places month by month; dwellings and large dwellings
    /// quarter by quarter; the rest (specialised care, accessible dwellings, ...) from January.
    static func generatedPlan(_ quota: [String: Int], period: Int) -> [String: [CapacityPlan.Release]] {
        var plan: [String: [CapacityPlan.Release]] = [:]
        for (dimension, units) in quota {
            let months: [Int]
            switch dimension {
            case "persons", "school_places", "preschool_places": months = Array(1...12)
            case "dwellings", "large_dwellings": months = [1, 4, 7, 10]
            default: continue
            }
            // The k-th release brings the total to units × k / releases: whole units, all of the quota.
            let releases = months.enumerated().compactMap { k, month -> CapacityPlan.Release? in
                let share = units * (k + 1) / months.count - units * k / months.count
                return share > 0 ? CapacityPlan.Release(from: CalendarDay(year: period, month: month, day: 1)!, units: share) : nil
            }
            if !releases.isEmpty { plan[dimension] = releases }
        }
        return plan
    }
}

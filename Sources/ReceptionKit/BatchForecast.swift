import Foundation
import Placement
import Postgres

/// A batch's look-ahead (issue 11 §3): the households still expected this period, resampled
/// from the cooperation's last 12 months of arrivals, handed to the engine as its `forecast`
/// (FORMAT.md "Look-ahead") so that it keeps scarce capacity — large dwellings, care, accessible
/// dwellings, places near family — for expected households that need it more.
///
/// How many: the officer's figure (`batch run --expected N`), else what the remaining persons
/// quota of the participating municipalities leaves once the households waiting now are placed,
/// in households of the history's average size — or, when that is more, as many as the last 12
/// months' pace brings in the days the period has left (when the Migration Agency assigns more
/// than the quota, the engine must choose, and needs to know who else is coming). Which: drawn with replacement from the history,
/// seeded by the batch's id (the same batch draws the same forecast). They are never placed and
/// never stored: only their number reaches the batch's summary. An officer may supply the
/// forecast instead (`batch run --forecast`, sql/019), stored with the batch's request.
public enum BatchForecast {
    /// Fewer arrivals than this in the last 12 months is too little to resample.
    public static let minimumHistory = 20
    /// At most this many expected households (a bound on the joint solve's size).
    public static let maximumExpected = 5_000

    /// What the look-ahead was, for the batch's summary and the officer.
    public struct Summary: Codable, Sendable, Equatable {
        /// True when the batch passed a forecast to the engine.
        public var used: Bool
        /// Arrivals in the last 12 months (the history resampled).
        public var history: Int
        /// Expected households in the forecast.
        public var expected: Int
        /// Whether `expected` is the officer's figure rather than the remaining quota's.
        public var expectedGiven: Bool
        /// Whether the forecast is the officer's file (`batch run --forecast`) rather than the
        /// last 12 months resampled (nil for batches before files, and when there is none).
        public var fromFile: Bool?
        /// Whether `expected` is the last 12 months' pace over the rest of the period, which
        /// was more than the remaining quota leaves (nil for batches before that rule).
        public var expectedByPace: Bool?
        /// Households left waiting so that capacity stays for expected arrivals (set at write).
        public var keptWaiting: Int
        /// Why there is no forecast, when there is none.
        public var skipped: String?

        enum CodingKeys: String, CodingKey {
            case used, history, expected, expectedGiven = "expected_given", expectedByPace = "expected_by_pace", fromFile = "from_file"
            case keptWaiting = "kept_waiting", skipped
        }

        /// A batch requested with `--no-look-ahead`.
        static let off = Summary(used: false, history: 0, expected: 0, expectedGiven: false, fromFile: nil, expectedByPace: nil, keptWaiting: 0,
                                 skipped: "turned off for this batch (--no-look-ahead)")

        func with(keptWaiting count: Int) -> Summary {
            var copy = self
            copy.keptWaiting = count
            return copy
        }
    }

    /// The engine's words for a household it leaves waiting for expected arrivals
    /// (Placement's Explanation), counted in the batch's summary.
    static let keptReason = "kept for expected arrivals"

    /// The households of a forecast file as request_batch takes them (sql/019_forecast_files.sql);
    /// nil for none.
    static func fileJSON(_ households: [PlacementInstance.Case]) -> String? {
        guard !households.isEmpty else { return nil }
        let array: [[String: Any]] = households.map { household in
            var object: [String: Any] = [
                "ages": household.members.map(\.age), "needs": household.needs, "occupations": household.occupations,
                "family_ties": household.familyTies, "preferences": household.preferences, "excluded": household.excluded,
            ]
            if let language = household.language { object["language"] = language }
            return object
        }
        let data = (try? JSONSerialization.data(withJSONObject: array, options: [.sortedKeys])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// The forecast of batch `batchID` for `instance` on `today`, read in the caller's snapshot:
    /// the officer's file when the request has one (`file`: its households, as the request
    /// recorded them), else the last 12 months resampled.
    static func build(for instance: PlacementInstance, batchID: Int, period: Int, today: CalendarDay, expected given: Int?,
                      file households: Int?, on connection: Connection) async throws -> (forecast: [PlacementInstance.Case], summary: Summary) {
        if let households {
            let file = try await connection.query("""
                SELECT ages, language, occupations, family_ties, preferences, excluded, needs::text AS needs
                FROM batch_forecast_households WHERE batch_id = \(batchID) ORDER BY position
                """)
            guard file.count == households else {
                throw ReceptionError.refused("batch \(batchID)'s request names a forecast of \(households) households, but \(file.count) are stored")
            }
            let expected = try file.map { row -> PlacementInstance.Case in
                let needs = try JSONDecoder().decode([String: Int].self, from: Data(try row.decode("needs", as: String.self).utf8))
                return PlacementInstance.Case(
                    id: "", ages: try row.decode("ages"), needs: needs, language: try row.decode("language"),
                    occupations: try row.decode("occupations"), familyTies: try row.decode("family_ties"),
                    preferences: try row.decode("preferences"), excluded: try row.decode("excluded"))
            }
            return fromFile(expected, expected: given, seed: batchID)
        }
        let seed = batchID
        let rows = try await connection.query("""
            SELECT c.ages, c.language, c.occupations, c.family_ties, c.preferences, c.excluded,
                   coalesce(array_agg(n.dimension ORDER BY n.dimension) FILTER (WHERE n.dimension IS NOT NULL), '{}') AS need_names,
                   coalesce(array_agg(n.units ORDER BY n.dimension) FILTER (WHERE n.dimension IS NOT NULL), '{}') AS need_units
            FROM cases c LEFT JOIN case_needs n ON n.case_id = c.id
            WHERE coalesce(c.anvisning_on, c.arrived_on) > \(today) - 365 AND coalesce(c.anvisning_on, c.arrived_on) <= \(today)
            GROUP BY c.id
            ORDER BY c.id
            """)
        let history = try rows.map { row -> PlacementInstance.Case in
            let names = try row.decode("need_names", as: [String].self)
            let units = try row.decode("need_units", as: [Int].self)
            return PlacementInstance.Case(
                id: "", ages: try row.decode("ages"), needs: Dictionary(uniqueKeysWithValues: zip(names, units)),
                language: try row.decode("language"), occupations: try row.decode("occupations"),
                familyTies: try row.decode("family_ties"), preferences: try row.decode("preferences"),
                excluded: try row.decode("excluded"))
        }
        // The year's remaining quota, not only what the plans have released by today.
        var free = 0
        if given == nil && history.count >= minimumHistory {
            free = try await connection.query("""
            SELECT coalesce(sum(greatest(0, quota - used)), 0)::bigint AS free FROM capacity
            WHERE period = \(period) AND dimension = 'persons' AND municipality_code = ANY(\(instance.municipalities.map(\.code)))
            """)[0].decode("free", as: Int.self)
        }
        // From today, or from 1 January for a period still to come.
        let daysLeft = max(today, CalendarDay(year: period, month: 1, day: 1)!).days(until: CalendarDay(year: period, month: 12, day: 31)!)
        return draw(from: history, waiting: instance.cases, freePersons: free, daysLeft: daysLeft, expected: given, seed: seed)
    }

    /// The officer's file: its households as they are, or `given` of them resampled.
    static func fromFile(_ households: [PlacementInstance.Case], expected given: Int?, seed: Int)
        -> (forecast: [PlacementInstance.Case], summary: Summary) {
        var summary = Summary(used: false, history: households.count, expected: 0, expectedGiven: given != nil, fromFile: true,
                              expectedByPace: nil, keptWaiting: 0, skipped: nil)
        let drawn: [PlacementInstance.Case]
        if let given {
            var generator = SplitMix64(seed: UInt64(truncatingIfNeeded: seed))
            drawn = (0..<min(given, maximumExpected)).map { _ in households[Int.random(in: 0..<households.count, using: &generator)] }
        } else {
            drawn = Array(households.prefix(maximumExpected))
        }
        guard !drawn.isEmpty else {
            summary.skipped = "no more arrivals are expected (--expected 0)"
            return ([], summary)
        }
        summary.expected = drawn.count
        summary.used = true
        return (drawn.enumerated().map { index, household in
            var household = household
            household.id = "forecast-\(index + 1)"
            household.waitingDays = 0
            return household
        }, summary)
    }

    /// The rule itself, on arrivals already read: `history` is the last 12 months' households,
    /// `freePersons` the persons quota the period has left (unused when `given`). The year
    /// simulation draws its forecasts with it too.
    static func draw(from history: [PlacementInstance.Case], waiting: [PlacementInstance.Case], freePersons free: Int,
                     daysLeft: Int, expected given: Int?, seed: Int) -> (forecast: [PlacementInstance.Case], summary: Summary) {
        var summary = Summary(used: false, history: history.count, expected: 0, expectedGiven: given != nil, fromFile: false, expectedByPace: nil,
                              keptWaiting: 0, skipped: nil)
        guard history.count >= minimumHistory else {
            summary.skipped = "only \(history.count) arrivals in the last 12 months (a forecast needs at least \(minimumHistory))"
            return ([], summary)
        }
        let count: Int
        if let given {
            count = given
        } else {
            let waitingPersons = waiting.reduce(0) { $0 + $1.members.count }
            let averageSize = Double(history.reduce(0) { $0 + $1.members.count }) / Double(history.count)
            let byQuota = Int((Double(max(0, free - waitingPersons)) / max(1, averageSize)).rounded(.down))
            // The last 12 months' pace over the days the period has left, when that is more.
            let byPace = Int((Double(history.count) * Double(max(0, daysLeft)) / 365).rounded(.down))
            count = max(byQuota, byPace)
            summary.expectedByPace = byPace > byQuota
        }
        summary.expected = min(count, maximumExpected)
        guard summary.expected > 0 else {
            summary.skipped = given != nil ? "no more arrivals are expected (--expected 0)"
                                           : "the households waiting now take the remaining quota, so no more arrivals are expected"
            return ([], summary)
        }
        var generator = SplitMix64(seed: UInt64(truncatingIfNeeded: seed))
        let forecast = (0..<summary.expected).map { index -> PlacementInstance.Case in
            var household = history[Int.random(in: 0..<history.count, using: &generator)]
            household.id = "forecast-\(index + 1)"
            household.waitingDays = 0
            return household
        }
        summary.used = true
        return (forecast, summary)
    }
}

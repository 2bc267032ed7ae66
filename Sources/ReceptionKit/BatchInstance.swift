import Foundation
import Placement
import Postgres

/// Builds the placement engine's instance from the database: every pending case, and what is
/// left of each participating municipality's capacity in the period.
///
/// Case ids in the instance are the numeric database ids (as text), never references: the
/// instance and everything derived from it (batch summaries, logs) stay free of personal data.
public enum BatchInstance {
    /// The municipalities that take part: active, already joined by `today`, and — if a list is
    /// given — on it.
    public static func load(
        period: Int, municipalities only: [String]?, today: CalendarDay, weights: PlacementInstance.Weights = .standard,
        on connection: Connection
    ) async throws -> PlacementInstance {
        try await loadWithFingerprints(period: period, municipalities: only, today: today, weights: weights, on: connection).instance
    }

    /// The instance, each case's fingerprint by id, and the latest reception date of each case
    /// that has one.
    static func loadWithFingerprints(
        period: Int, municipalities only: [String]?, today: CalendarDay, weights: PlacementInstance.Weights = .standard,
        on connection: Connection
    ) async throws -> (instance: PlacementInstance, fingerprints: [Int: String], deadlines: [Int: CalendarDay]) {
        let municipalityRows = try await connection.query("""
            SELECT m.code, m.name, m.languages, m.shortage_occupations,
                   coalesce(array_agg(k.dimension ORDER BY k.dimension) FILTER (WHERE k.dimension IS NOT NULL), '{}') AS dimensions,
                   coalesce(array_agg(r.released - k.used ORDER BY k.dimension) FILTER (WHERE k.dimension IS NOT NULL), '{}') AS free
            FROM municipalities m LEFT JOIN capacity k ON k.municipality_code = m.code AND k.period = \(period)
            -- The quota the municipality's plan has released by today (sql/015_capacity_plans.sql).
            LEFT JOIN LATERAL (SELECT capacity_released(k.municipality_code, k.period, k.dimension, k.quota, \(today)) AS released) r ON true
            WHERE m.active AND m.joined_on <= \(today)
              AND (\(only)::text[] IS NULL OR m.code = ANY(\(only)))
            GROUP BY m.code, m.name, m.languages, m.shortage_occupations
            ORDER BY m.code
            """)
        let municipalities = try municipalityRows.map { row -> PlacementInstance.Municipality in
            let dimensions = try row.decode("dimensions", as: [String].self)
            let free = try row.decode("free", as: [Int].self)
            return PlacementInstance.Municipality(
                code: try row.decode("code"), name: try row.decode("name"),
                capacity: Dictionary(uniqueKeysWithValues: zip(dimensions, free.map { max(0, $0) })),
                languages: try row.decode("languages"), shortageOccupations: try row.decode("shortage_occupations"))
        }

        let pending = try await Self.pendingCases(today: today, on: connection)
        return (PlacementInstance(weights: weights, municipalities: municipalities, cases: pending.cases),
                pending.fingerprints, pending.deadlines)
    }

    /// The pending (registered) cases, all or only `ids`, with their fingerprints by id
    /// (`case_fingerprint`, sql/009_batch_jobs.sql: what a batch re-checks at its write).
    static func pendingCases(
        ids: [Int]? = nil, today: CalendarDay, on connection: Connection
    ) async throws -> (cases: [PlacementInstance.Case], fingerprints: [Int: String], deadlines: [Int: CalendarDay]) {
        let caseRows = try await connection.query("""
            SELECT c.id, c.ages, c.language, c.occupations, c.family_ties, c.preferences, c.excluded,
                   greatest(0, \(today) - c.arrived_on) AS waiting_days, case_fingerprint(c) AS fingerprint, c.latest_reception_on,
                   coalesce(array_agg(n.dimension ORDER BY n.dimension) FILTER (WHERE n.dimension IS NOT NULL), '{}') AS need_names,
                   coalesce(array_agg(n.units ORDER BY n.dimension) FILTER (WHERE n.dimension IS NOT NULL), '{}') AS need_units
            FROM cases c LEFT JOIN case_needs n ON n.case_id = c.id
            WHERE c.status = 'registered' AND (\(ids)::bigint[] IS NULL OR c.id = ANY(\(ids)::bigint[]))
            GROUP BY c.id
            ORDER BY c.arrived_on, c.id
            """)
        var fingerprints: [Int: String] = [:]
        var deadlines: [Int: CalendarDay] = [:]
        let cases = try caseRows.map { row -> PlacementInstance.Case in
            let names = try row.decode("need_names", as: [String].self)
            let units = try row.decode("need_units", as: [Int].self)
            let id = try row.decode("id", as: Int.self)
            fingerprints[id] = try row.decode("fingerprint", as: String.self)
            if let latest = try row.decode("latest_reception_on", as: CalendarDay?.self) { deadlines[id] = latest }
            return PlacementInstance.Case(
                id: String(id), ages: try row.decode("ages"),
                needs: Dictionary(uniqueKeysWithValues: zip(names, units)), language: try row.decode("language"),
                occupations: try row.decode("occupations"), familyTies: try row.decode("family_ties"),
                preferences: try row.decode("preferences"), excluded: try row.decode("excluded"),
                waitingDays: try row.decode("waiting_days"))
        }
        return (cases, fingerprints, deadlines)
    }
}

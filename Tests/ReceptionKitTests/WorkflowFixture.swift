import Foundation
import Postgres

/// A small Umeåregionen, set up by plain SQL so that these tests depend only on the schema.
enum WorkflowFixture {
    static let period = 2026

    /// Three municipalities with room for a few households, and `cases` pending households of
    /// two adults and a school child, arrived in order.
    static func seed(on connection: Connection, cases: Int = 6, personsQuota: Int = 9) async throws {
        try await connection.executeScript("""
            INSERT INTO municipalities (code, name, joined_on, languages, shortage_occupations) VALUES
                ('2480', 'Umeå', '2020-01-01', '{ar,ti,so}', '{nurse}'),
                ('2460', 'Vännäs', '2020-01-01', '{ar}', '{welder}'),
                ('2284', 'Örnsköldsvik', '2020-01-01', '{}', '{}');
            """)
        for code in ["2480", "2460", "2284"] {
            try await connection.execute("""
                INSERT INTO capacity (municipality_code, period, dimension, quota)
                SELECT \(code), \(period), d, q FROM unnest(\(["persons", "dwellings", "school_places", "preschool_places", "large_dwellings"]),
                                                          \([personsQuota, personsQuota / 3, personsQuota / 3, 2, 1])) AS t(d, q)
                """)
        }
        for index in 1...max(1, cases) where cases > 0 {
            try await connection.execute("""
                INSERT INTO cases (reference, ages, language, arrived_on, family_ties)
                VALUES (\("MIG-2026-\(1000 + index)"), \([35, 33, 8]), \("ar"), \(arrival(index)),
                        \(index % 2 == 0 ? ["2460"] : [String]()))
                """)
        }
    }

    /// Household `index`'s arrival: 1 October for the first, one day later for each up to 31,
    /// then one day earlier than 1 October for each after that (all before the tests' today).
    static func arrival(_ index: Int) -> CalendarDay {
        let first = CalendarDay(year: 2026, month: 10, day: 1)!
        return first.adding(days: index <= 31 ? index - 1 : 31 - index)!
    }

    static func caseID(_ reference: String, on connection: Connection) async throws -> Int {
        try await connection.query("SELECT id FROM cases WHERE reference = \(reference)")[0].decode("id")
    }

    static func capacity(_ municipality: String, _ dimension: String = "persons", on connection: Connection) async throws -> (used: Int, forced: Int) {
        let row = try await connection.query("""
            SELECT used, forced FROM capacity WHERE municipality_code = \(municipality) AND period = \(period) AND dimension = \(dimension)
            """)[0]
        return (try row.decode("used"), try row.decode("forced"))
    }

    static func caseStatus(_ reference: String, on connection: Connection) async throws -> String {
        try await connection.query("SELECT status FROM cases WHERE reference = \(reference)")[0].decode("status")
    }

    /// A batch row to hang proposals on, as `batch run` would create.
    static func batch(dryRun: Bool = false, on connection: Connection) async throws -> Int {
        try await connection.query("""
            INSERT INTO batches (period, dry_run, summary) VALUES (\(period), \(dryRun), '{"time_limit": 1}') RETURNING id
            """)[0].decode("id")
    }

    /// A proposal written directly, as a batch would.
    static func propose(_ reference: String, to municipality: String, batch: Int, on connection: Connection) async throws -> Int {
        try await connection.query("""
            INSERT INTO allocations (case_id, municipality_code, period, status, score, batch_id)
            SELECT id, \(municipality), \(period), 'proposed', 1000, \(batch) FROM cases WHERE reference = \(reference)
            RETURNING id
            """)[0].decode("id")
    }
}

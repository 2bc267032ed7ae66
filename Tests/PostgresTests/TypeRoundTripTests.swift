import Foundation
import Postgres
import Testing
import TestSupport

@Suite("Values round-trip through PostgreSQL")
struct TypeRoundTripTests {
    @Test func scalarsAndNulls() async throws {
        let connection = try await TestDatabase.connect()
        let now = Date(timeIntervalSince1970: 1_795_000_000.123456)
        let id = UUID()
        let rows = try await connection.query("""
            SELECT \(true) AS yes, \(Int.max) AS big, \(Int32(-7)) AS small, \(3.25) AS ratio,
                   \("Örnsköldsvik") AS name, \(now) AS at, \(id) AS id,
                   \(Optional<String>.none) AS nothing, \(Optional<Int>.none) AS no_number,
                   \(CalendarDay("2026-11-02")!) AS arrived
            """)
        let row = try #require(rows.first)
        #expect(try row.decode("yes", as: Bool.self) == true)
        #expect(try row.decode("big", as: Int.self) == Int.max)
        #expect(try row.decode("small", as: Int32.self) == -7)
        #expect(try row.decode("ratio", as: Double.self) == 3.25)
        #expect(try row.decode("name", as: String.self) == "Örnsköldsvik")
        let at = try row.decode("at", as: Date.self)
        #expect(abs(at.timeIntervalSince1970 - now.timeIntervalSince1970) < 0.000_002)
        #expect(try row.decode("id", as: UUID.self) == id)
        #expect(try row.decode("nothing", as: String?.self) == nil)
        #expect(try row.decode("no_number", as: Int?.self) == nil)
        #expect(try row.decode("arrived", as: CalendarDay.self) == CalendarDay("2026-11-02"))
        #expect(try row.decode("arrived", as: Date.self) == CalendarDay("2026-11-02")!.date)
    }

    @Test func longAndUnicodeTextInATable() async throws {
        let connection = try await TestDatabase.connect()
        try await connection.executeScript("CREATE TEMP TABLE notes (id int PRIMARY KEY, body text)")
        let long = String(repeating: "Vännäs – Umeå – Örnsköldsvik – ትግርኛ – دری – 🏠\n\t\\ ", count: 20_000)
        try await connection.execute("INSERT INTO notes VALUES (1, \(long)), (2, \(Optional<String>.none))")
        let rows = try await connection.query("SELECT id, body FROM notes ORDER BY id")
        #expect(rows.count == 2)
        #expect(try rows[0].decode("body", as: String.self) == long)
        #expect(try rows[1].decode("body", as: String?.self) == nil)
    }

    @Test func hostileTextIsDataNotSQL() async throws {
        let connection = try await TestDatabase.connect()
        try await connection.executeScript("CREATE TEMP TABLE cases (reference text)")
        let hostile = "'); DROP TABLE cases; --"
        try await connection.execute("INSERT INTO cases VALUES (\(hostile))")
        let rows = try await connection.query("SELECT reference FROM cases WHERE reference = \(hostile)")
        #expect(try rows.map { try $0.decode("reference", as: String.self) } == [hostile])
        let tables = try await connection.query("SELECT count(*) AS n FROM pg_tables WHERE tablename = 'cases'")
        #expect(try tables[0].decode("n", as: Int.self) == 1)
    }

    @Test func arrays() async throws {
        let connection = try await TestDatabase.connect()
        let names = ["Umeå", "a,b", "with \"quotes\"", "back\\slash", "", "NULL", "{braces}"]
        let rows = try await connection.query("""
            SELECT \(names) AS names, \([34, 31, 9, 4]) AS ages, ARRAY[]::int[] AS empty,
                   ARRAY['x', NULL] AS with_null, \([Int32(1), 2]) AS small
            """)
        #expect(try rows[0].decode("names", as: [String].self) == names)
        #expect(try rows[0].decode("ages", as: [Int].self) == [34, 31, 9, 4])
        #expect(try rows[0].decode("empty", as: [Int].self) == [])
        #expect(try rows[0].decode("small", as: [Int32].self) == [1, 2])
        // A NULL element does not fit a non-optional element type: an error, not a crash.
        #expect(throws: PostgresError.self) { try rows[0].decode("with_null", as: [String].self) }
    }

    struct Household: Codable, Equatable, Sendable {
        var members: [Int]
        var needs: [String: Int]
        var language: String?
    }

    @Test func jsonViaCodable() async throws {
        let connection = try await TestDatabase.connect()
        let household = Household(members: [34, 31, 9], needs: ["trauma_care": 1], language: "ti")
        let rows = try await connection.query("SELECT \(JSONValue(household)) AS doc, \(JSONValue(household))->'needs'->>'trauma_care' AS units")
        #expect(try rows[0].decode("doc", as: JSONValue<Household>.self).value == household)
        #expect(try rows[0].decode("units", as: String.self) == "1")
    }

    @Test func nullAndMismatchAreErrorsThatNameTheColumn() async throws {
        let connection = try await TestDatabase.connect()
        let rows = try await connection.query("SELECT NULL::int AS missing, 'abc'::text AS word")
        do {
            _ = try rows[0].decode("missing", as: Int.self)
            Issue.record("NULL decoded as a non-optional Int")
        } catch let error as PostgresError {
            guard case .decoding(let column, _, let reason) = error else { Issue.record("\(error)"); return }
            #expect(column == "missing")
            #expect(reason == .unexpectedNull)
        }
        do {
            _ = try rows[0].decode("word", as: Int.self)
            Issue.record("text decoded as Int")
        } catch let error as PostgresError {
            guard case .decoding(let column, _, let reason) = error else { Issue.record("\(error)"); return }
            #expect(column == "word")
            #expect(reason == .typeMismatch)
            #expect(!"\(error)".contains("abc"), "the value must not appear in the error")
        }
        #expect(throws: PostgresError.self) { try rows[0].decode("no_such_column", as: Int.self) }
    }
}

import Foundation
import Postgres
import Testing
import TestSupport

@Suite("COPY FROM STDIN")
struct CopyTests {
    @Test func copiesAHundredThousandRows() async throws {
        let connection = try await TestDatabase.connect()
        try await connection.executeScript("CREATE TEMP TABLE arrivals (id bigint PRIMARY KEY, reference text, ages int[], note text, arrived date)")
        // Seconds of CPU in a debug build: off the cooperative pool that in-process workers share.
        let rows = try await offPool {
            var rows = CopyRows(reservingBytes: 6_000_000)
            for id in 0..<100_000 {
                let note: String? = id % 10 == 0 ? nil : "line\tbreak\nand \\ backslash Umeå \(id)"
                rows.append([id, "MIG-\(id)", [34, 31, id % 18], note, CalendarDay("2026-11-02")!])
            }
            return rows
        }
        let copied = try await connection.withTransaction { connection in
            try await connection.copy(into: "arrivals", columns: ["id", "reference", "ages", "note", "arrived"], rows: rows)
        }
        #expect(copied == 100_000)
        let summary = try await connection.query("SELECT count(*) AS n, count(note) AS notes, max(ages[3]) AS oldest FROM arrivals")
        #expect(try summary[0].decode("n", as: Int.self) == 100_000)
        #expect(try summary[0].decode("notes", as: Int.self) == 90_000)
        #expect(try summary[0].decode("oldest", as: Int.self) == 17)
        let one = try await connection.query("SELECT note FROM arrivals WHERE id = 7")
        #expect(try one[0].decode("note", as: String.self) == "line\tbreak\nand \\ backslash Umeå 7")
    }

    @Test func aBadRowFailsTheWholeCopy() async throws {
        let connection = try await TestDatabase.connect()
        try await connection.executeScript("CREATE TEMP TABLE ages (age int CHECK (age BETWEEN 0 AND 120))")
        var rows = CopyRows()
        for age in [30, 40, 150, 50] { rows.append([age]) }
        await #expect(throws: PostgresError.self) {
            try await connection.copy(into: "ages", columns: ["age"], rows: rows)
        }
        #expect(try await connection.query("SELECT * FROM ages").isEmpty)
        // The connection is still usable afterwards.
        #expect(try await connection.query("SELECT 1 AS one").count == 1)
    }
}

import Foundation
import Postgres
import Testing
import TestSupport

/// A session's settings (a daemon's timeouts) hold from its first statement, and a connection
/// string's own `options` add to them instead of replacing them.
@Suite("Session settings")
struct SessionSettingsTests {
    @Test func settingsHoldBesideTheConnectionStringsOwnOptions() async throws {
        let base = try TestDatabase.serverURL()
        let url = base + (base.contains("?") ? "&" : "?") + "options=-c%20work_mem%3D7MB"
        let connection = try await Connection.connect(url, settings: [("statement_timeout", "4321"), ("lock_timeout", "1234")])
        let row = try await connection.query("""
            SELECT current_setting('statement_timeout') AS statement, current_setting('lock_timeout') AS lock,
                   current_setting('work_mem') AS work_mem
            """)[0]
        #expect(try row.decode("statement", as: String.self) == "4321ms")
        #expect(try row.decode("lock", as: String.self) == "1234ms")
        #expect(try row.decode("work_mem", as: String.self) == "7MB")
    }
}

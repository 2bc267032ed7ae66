import Foundation
import Testing
import TestSupport

/// The CLI and a database that is not there (issue 9 §3): a server that is down is retried,
/// and said, before exit 69; a database that does not exist is configuration, said at once (78).
@Suite("The CLI's connection")
struct CLIConnectionTests {
    @Test func anUnreachableServerIsRetriedThenExits69AndAMissingDatabaseExits78AtOnce() async throws {
        let reception = try TestDatabase.executable("reception")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("no-server-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let down = try await Process.output(of: reception, ["case", "list", "--database-url", "host=\(folder) port=5999 dbname=reception"])
        #expect(down.status == 69, "\(down.output)")
        #expect(down.output.contains("retrying in 0.5 s (1 of 4)") && down.output.contains("(4 of 4)"), "\(down.output)")

        let missing = TestDatabase.url(try TestDatabase.serverURL(), database: "no_such_database_\(UUID().uuidString.prefix(6).lowercased())")
        let refused = try await Process.output(of: reception, ["case", "list", "--database-url", missing])
        #expect(refused.status == 78, "\(refused.output)")
        #expect(refused.output.contains("does not exist") && !refused.output.contains("retrying"), "\(refused.output)")
    }
}

import Foundation
import Testing
import TestSupport

/// The schema's own check script (sql/checks), which verifies its invariants with psql alone,
/// keeps passing as the schema grows. (sql/checks/001_domain_concurrency.sh is left to manual
/// runs: it orders its sessions with sleeps, which a loaded machine can reorder. The Swift
/// suites check the same invariants under concurrency with assertions that hold in any order.)
@Suite("sql/checks scripts")
struct SchemaCheckScriptTests {
    func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        process.currentDirectoryURL = TestDatabase.repositoryRoot
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func theDomainChecksPass() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let result = try run("psql", [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "sql/checks/001_domain_checks.sql"])
            #expect(result.status == 0, "\(result.output)")
            #expect(!result.output.contains("CHECK FAILED"))
        }
    }
}

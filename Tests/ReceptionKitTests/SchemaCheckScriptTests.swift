import Foundation
import Testing
import TestSupport

/// The schema's own check script (sql/checks), which verifies its invariants with psql alone,
/// keeps passing as the schema grows. (sql/checks/001_domain_concurrency.sh is left to manual
/// runs: it orders its sessions with sleeps, which a loaded machine can reorder. The Swift
/// suites check the same invariants under concurrency with assertions that hold in any order.)
@Suite("sql/checks scripts")
struct SchemaCheckScriptTests {
    func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await Process.output(of: URL(fileURLWithPath: "/usr/bin/env"), [executable] + arguments, in: TestDatabase.repositoryRoot)
    }

    @Test func theDomainChecksPass() async throws {
        try await TestDatabase.withMigratedDatabase { url in
            let result = try await run("psql", [url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "sql/checks/001_domain_checks.sql"])
            #expect(result.status == 0, "\(result.output)")
            #expect(!result.output.contains("CHECK FAILED"))
        }
    }
}

import Foundation
import Postgres
import Testing
import TestSupport
@testable import JobQueue

/// PostgreSQL's own replication as the way past one machine: two daemons and the CLI on a
/// libpq multi-host connection string (`target_session_attrs=read-write`) carry on when the
/// primary crashes and its synchronous standby is promoted (scripts/db-replicated); every
/// job's effect happens exactly once.
@Suite("Failover to a promoted standby")
struct FailoverTests {
    static let script = TestDatabase.repositoryRoot.appendingPathComponent("scripts/db-replicated")
    static let environment = [
        "RECEPTION_REPLICA_DIR": TestDatabase.repositoryRoot.appendingPathComponent(".reception/test-replicated").path,
        "RECEPTION_REPLICA_PORT": "5456",
    ]

    static func replicated(_ command: String) async throws -> String {
        let run = try await runTool(script, [command], environment: environment)
        guard run.status == 0 else { throw ScriptFailed(command: command, status: run.status, error: run.error) }
        return run.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct ScriptFailed: Error, CustomStringConvertible {
        let command: String
        let status: Int32
        let error: String
        var description: String { "scripts/db-replicated \(command) exited \(status): \(error)" }
    }

    @Test func daemonsAndTheCLICarryOnAfterTheStandbyIsPromoted() async throws {
        let url = try await Self.replicated("reset")
        do {
            try await failover(url)
            _ = try await Self.replicated("stop")
        } catch {
            _ = try? await Self.replicated("stop")
            throw error
        }
    }

    func failover(_ url: String) async throws {
        let migrate = try await runTool(try TestDatabase.executable("reception"), ["db", "migrate", "--database-url", url])
        #expect(migrate.status == 0, "\(migrate.error)")
        let connection = try await Connection.connect(url, applicationName: "jobqueue-tests")
        try await QueueTest.createEffectsTable(on: connection)
        let total = 3000
        // 10 ms each on 8 slots: about 4 s of work, most of it still ahead at the crash.
        try await connection.enqueue(DaemonTests.effectJobs(total, sleepMilliseconds: 10))

        let daemons = try (0..<2).map { _ in try DaemonProcess(url: url, ["--concurrency", "4", "--lease", "3s"]) }
        try await QueueTest.waitUntil("some jobs took effect") {
            try await QueueTest.count(connection, "SELECT count(*) FROM testing_effects") >= 300
        }
        let doneBeforeCrash = try await QueueTest.count(connection, "SELECT count(*) FROM jobs WHERE state = 'succeeded'")
        #expect(doneBeforeCrash < total, "the primary must crash mid-drain")
        _ = try await Self.replicated("promote")

        // The same connection string now lands on the promoted standby.
        let after = try await Connection.connect(url, applicationName: "jobqueue-tests")
        #expect(try await after.query("SELECT pg_is_in_recovery() AS r")[0].decode("r", as: Bool.self) == false)
        try await QueueTest.waitUntil("every job succeeded", timeout: .seconds(180)) {
            try await QueueTest.count(after, "SELECT count(*) FROM jobs WHERE state = 'succeeded'") == total
        }
        #expect(try await QueueTest.count(after, "SELECT count(*) FROM jobs WHERE state <> 'succeeded'") == 0)
        // Exactly once: every job's effect, none twice (an effect commits with its job's success).
        #expect(try await QueueTest.count(after, "SELECT count(*) FROM testing_effects") == total)
        #expect(try await QueueTest.count(after, "SELECT count(DISTINCT job_id) FROM testing_effects") == total)
        // The daemons said what happened and went on.
        for daemon in daemons { #expect(daemon.log.contains("database connection restored"), "\(daemon.log.suffix(2000))") }
        let stats = try await runTool(try TestDatabase.executable("reception"), ["jobs", "stats", "--json", "--database-url", url])
        #expect(stats.status == 0, "\(stats.error)")
        for daemon in daemons { daemon.signal(SIGTERM) }
        for daemon in daemons { #expect(await daemon.waitForExit(timeout: .seconds(60)) == 0) }
    }
}

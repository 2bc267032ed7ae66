import Foundation
import Postgres
import Testing
import TestSupport
@testable import JobQueue

/// PostgreSQL's own replication as the way past one machine, under chaos (the small version of
/// scripts/bench-chaos): three daemons and the CLI on a libpq multi-host connection string
/// (`target_session_attrs=read-write`) carry on while one daemon is SIGKILLed every 2 s, the
/// primary crashes and restarts, then crashes for good and its synchronous standby is promoted
/// (scripts/db-replicated), a CLI command started in between; every job's effect happens
/// exactly once.
@Suite("Chaos: killed daemons, a crashed server, a promoted standby")
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

    @Test func nothingIsLostOrDoneTwiceWhileDaemonsDieTheServerCrashesAndTheStandbyIsPromoted() async throws {
        let url = try await Self.replicated("reset")
        do {
            try await chaos(url)
            _ = try await Self.replicated("stop")
        } catch {
            _ = try? await Self.replicated("stop")
            throw error
        }
    }

    /// How many rows a count query finds, or nil while the server is away.
    static func count(_ url: String, _ query: Query) async -> Int? {
        guard let connection = try? await Connection.connect(url, applicationName: "jobqueue-tests") else { return nil }
        return try? await QueueTest.count(connection, query)
    }

    func chaos(_ url: String) async throws {
        let migrate = try await runTool(try TestDatabase.executable("reception"), ["db", "migrate", "--database-url", url])
        #expect(migrate.status == 0, "\(migrate.error)")
        let connection = try await Connection.connect(url, applicationName: "jobqueue-tests")
        try await QueueTest.createEffectsTable(on: connection)
        let total = 3000
        // 40 ms each on 12 slots: about 10 s of work, with the chaos on top.
        try await connection.enqueue(DaemonTests.effectJobs(total, sleepMilliseconds: 40))

        var daemons = try (0..<3).map { _ in try DaemonProcess(url: url, ["--concurrency", "4", "--lease", "3s"]) }
        var everyDaemon = daemons
        let open: Query = "SELECT count(*) FROM jobs WHERE state IN ('scheduled', 'available', 'running', 'retryable')"
        var (kills, doneBeforePromotion) = (0, total)
        let deadline = ContinuousClock.now + .seconds(240)
        while true {
            try await Task.sleep(for: .seconds(2))
            let victim = kills % daemons.count
            daemons[victim].signal(SIGKILL)
            #expect(await daemons[victim].waitForExit() == 128 + SIGKILL)
            daemons[victim] = try DaemonProcess(url: url, ["--concurrency", "4", "--lease", "3s"])
            everyDaemon.append(daemons[victim])
            kills += 1
            if kills == 1 {
                _ = try await Self.replicated("restart")
            } else if kills == 3 {
                doneBeforePromotion = await Self.count(url, "SELECT count(*) FROM testing_effects") ?? total
                // The failover's gap held open: the CLI starts when no primary answers, retries
                // (and says so), and reaches the standby once it is promoted.
                _ = try await Self.replicated("crash")
                // Promoted once the CLI has said it retries (not after a fixed pause, which a
                // slow start of the CLI could outlast).
                let cli = try ChildProcess(try TestDatabase.executable("reception"), ["jobs", "stats", "--json", "--database-url", url])
                try await QueueTest.waitUntil("the CLI retries", timeout: .seconds(20)) { cli.errorOutput.contains("retrying") }
                _ = try await Self.replicated("promote")
                #expect(await cli.waitForExit(timeout: .seconds(60)) == 0, "\(cli.errorOutput)")
                #expect(cli.output.contains("\"queue\""), "\(cli.output)")
            } else if kills > 3, await Self.count(url, open) == 0 {
                break
            }
            guard ContinuousClock.now < deadline else { throw QueueTest.TimedOut(what: "every job ran, through the chaos") }
        }
        #expect(doneBeforePromotion < total, "the primary must be lost mid-drain")

        // The same connection string now lands on the promoted standby.
        let after = try await Connection.connect(url, applicationName: "jobqueue-tests")
        #expect(try await after.query("SELECT pg_is_in_recovery() AS r")[0].decode("r", as: Bool.self) == false)
        #expect(try await QueueTest.count(after, "SELECT count(*) FROM jobs WHERE state = 'succeeded'") == total)
        // Exactly once: every job's effect, none twice (an effect commits with its job's success).
        #expect(try await QueueTest.count(after, "SELECT count(*) FROM testing_effects") == total)
        #expect(try await QueueTest.count(after, "SELECT count(DISTINCT job_id) FROM testing_effects") == total)
        // Killed daemons' jobs were rescued; the daemons said what happened and went on.
        #expect(try await QueueTest.count(after, "SELECT count(*) FROM jobs WHERE errors::text LIKE '%worker lost%'") > 0)
        #expect(everyDaemon.contains { $0.log.contains("database connection restored") })
        let stats = try await runTool(try TestDatabase.executable("reception"), ["jobs", "stats", "--json", "--database-url", url])
        #expect(stats.status == 0, "\(stats.error)")
        for daemon in daemons { daemon.signal(SIGTERM) }
        // A daemon that does not end cleanly shows its status and the end of its log (test jobs
        // only: no personal data), so that a failure here says why (seen once in a fresh clone).
        for daemon in daemons {
            // Past the daemon's own bound (grace period 30 s + wind-down 30 s + 10 s).
            let status = await daemon.waitForExit(timeout: .seconds(90))
            #expect(status == 0, "exit status \(status.map(String.init) ?? "none within 90 s"); log ends: \(daemon.log.suffix(3000))")
        }
    }
}

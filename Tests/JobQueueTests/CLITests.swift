import Foundation
import Postgres
import Testing
import TestSupport
@testable import JobQueue

@Suite("reception jobs")
struct CLITests {
    static func reception(_ arguments: [String]) async throws -> (status: Int32, output: String, error: String) {
        try await runTool(try TestDatabase.executable("reception"), arguments)
    }

    static func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    @Test func operatorsEnqueueInspectRetryCancelAndPrune() async throws {
        try await QueueTest.withDatabase { url, connection in
            let db = ["--database-url", url]
            let bulk = try await Self.reception(["jobs", "enqueue", "--kind", "noop", "--count", "5", "--json"] + db)
            #expect(bulk.status == 0, "\(bulk.error)")
            #expect((try Self.json(bulk.output) as? [String: Any])?["enqueued"] as? Int == 5)

            let single = try await Self.reception(["jobs", "enqueue", "--kind", FailingJob.kind, "--max-attempts", "1", "--args", #"{"a":1}"#, "--json"] + db)
            #expect(single.status == 0, "\(single.error)")
            let id = try #require(((try Self.json(single.output) as? [String: Any])?["ids"] as? [Int])?.first)

            var registry = JobRegistry()
            registry.register(NoopJob())
            registry.register(FailingJob())
            try await QueueTest.drain(url, registry)

            let list = try await Self.reception(["jobs", "list", "--state", "discarded", "--json"] + db)
            #expect(list.status == 0)
            let listed = try #require(try Self.json(list.output) as? [[String: Any]])
            #expect(listed.map { $0["id"] as? Int } == [id])

            let show = try await Self.reception(["jobs", "show", String(id)] + db)
            #expect(show.status == 0)
            #expect(show.output.contains("boom on attempt 1"))
            #expect(show.output.contains("discarded"))

            let stats = try await Self.reception(["jobs", "stats", "--json"] + db)
            let queues = try #require(try Self.json(stats.output) as? [[String: Any]])
            let counts = try #require(queues.first?["counts"] as? [String: Int])
            #expect(counts["succeeded"] == 5 && counts["discarded"] == 1)
            let table = try await Self.reception(["jobs", "stats"] + db)
            #expect(table.output.contains("SUCCEEDED") && table.output.contains("default"))

            let retry = try await Self.reception(["jobs", "retry", String(id)] + db)
            #expect(retry.status == 0)
            #expect(try await QueueTest.state(of: Int64(id), connection) == .available)
            let cancel = try await Self.reception(["jobs", "cancel", String(id)] + db)
            #expect(cancel.status == 0)
            #expect(try await QueueTest.state(of: Int64(id), connection) == .cancelled)
            let again = try await Self.reception(["jobs", "cancel", String(id)] + db)
            #expect(again.status == 1)

            let missing = try await Self.reception(["jobs", "show", "999999"] + db)
            #expect(missing.status == 67)

            let prune = try await Self.reception(["jobs", "prune", "--older-than", "0s", "--json"] + db)
            #expect((try Self.json(prune.output) as? [String: Any])?["deleted"] as? Int == 6)
        }
    }

    @Test func jobsHelpReadsWell() async throws {
        let help = try await Self.reception(["jobs", "--help"])
        #expect(help.status == 0)
        for command in ["list", "show", "stats", "retry", "cancel", "prune", "enqueue"] {
            #expect(help.output.contains(command))
        }
        let daemonHelp = try await runTool(try TestDatabase.executable("receptiond"), ["--help"])
        #expect(daemonHelp.status == 0)
        for flag in ["--concurrency", "--queue", "--drain", "--grace-period", "--database-url"] {
            #expect(daemonHelp.output.contains(flag))
        }
        #expect(!daemonHelp.output.contains("testing-kinds"))
    }
}

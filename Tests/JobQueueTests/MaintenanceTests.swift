import Foundation
import Postgres
import Synchronization
import Testing
import TestSupport
@testable import JobQueue

/// The queue's maintenance: scheduled jobs kept out of the claim's way and staged when due, one
/// elected daemon at a time, and periodic jobs enqueued once per slot however many daemons run.
@Suite("Maintenance: staging, the elected daemon, periodic jobs")
struct MaintenanceTests {
    @Test func aJobDueLaterIsScheduledAndNotClaimedUntilStaged() async throws {
        try await QueueTest.withDatabase { url, connection in
            let later = try await connection.enqueue(NewJob(kind: "noop", runAt: Date().addingTimeInterval(3600)))
            let now = try await connection.enqueue(NewJob(kind: "noop"))
            // However it is written: a raw INSERT with a future run_at is scheduled too.
            try await connection.execute("INSERT INTO jobs (kind, run_at) VALUES ('noop', now() + interval '1 day')")
            #expect(try await QueueTest.state(of: later.id, connection) == .scheduled)
            #expect(try await QueueTest.state(of: now.id, connection) == .available)
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM jobs WHERE state = 'scheduled'") == 2)
            let claimed = try await connection.query(JobStatements.claim(owner: "w", lease: .seconds(30), queues: ["default"], limit: 10))
            #expect(try claimed.map { try $0.decode("id", as: Int64.self) } == [now.id])

            // Due now: still scheduled until staged, then claimed.
            try await connection.execute("UPDATE jobs SET run_at = now() - interval '1 second' WHERE id = \(later.id)")
            #expect(try await QueueTest.state(of: later.id, connection) == .scheduled)
            #expect(try await connection.query(JobStatements.claim(owner: "w", lease: .seconds(30), queues: ["default"], limit: 10)).isEmpty)
            let database = ReconnectingConnection(conninfo: url, applicationName: "jobqueue-tests", role: "maintenance", logger: QueueTest.logger)
            defer { database.close() }
            let maintainer = Maintainer(database: database, owner: "m", configuration: QueueTest.configuration(url), logger: QueueTest.logger)
            #expect(try await maintainer.stage() == 1)
            #expect(try await QueueTest.state(of: later.id, connection) == .available)
            let second = try await connection.query(JobStatements.claim(owner: "w", lease: .seconds(30), queues: ["default"], limit: 10))
            #expect(try second.map { try $0.decode("id", as: Int64.self) } == [later.id])
        }
    }

    @Test func retriesAndSnoozesWaitOutsideTheClaimAndRunWhenDue() async throws {
        try await QueueTest.withDatabase { url, connection in
            var registry = JobRegistry()
            registry.register(FlakyJob())
            registry.register(SnoozingJob())
            let flaky = try await connection.enqueue(NewJob(kind: FlakyJob.kind))
            let snoozing = try await connection.enqueue(NewJob(kind: SnoozingJob.kind))
            try await QueueTest.withWorker(url, registry) {
                try await QueueTest.waitUntil("both jobs succeeded") {
                    let flakyState = try await QueueTest.state(of: flaky.id, connection)
                    let snoozingState = try await QueueTest.state(of: snoozing.id, connection)
                    return flakyState == .succeeded && snoozingState == .succeeded
                }
            }
            let record = try #require(try await JobAdmin(connection).job(flaky.id))
            #expect(record.attempt == 3 && record.errors.count == 2)
        }
    }

    @Test func oneDaemonLeadsAndAnotherTakesOverWhenItsSessionEnds() async throws {
        try await QueueTest.withDatabase { url, connection in
            let first = try await Connection.connect(url)
            let second = try await Connection.connect(url)
            func lead(_ c: Connection, _ name: String, termMs: Int = 30_000) async throws -> Bool {
                try await c.query("SELECT jobs_lead(\(name), \(termMs)::bigint) AS leads")[0].decode("leads", as: Bool.self)
            }
            #expect(try await lead(first, "a"))
            #expect(try await lead(second, "b") == false)
            #expect(try await lead(first, "a"), "the leader keeps its place")
            // The same name from another session is not the leader.
            #expect(try await lead(second, "a") == false)
            // The leader's session ends (its daemon was killed, its host lost).
            _ = try await connection.query("SELECT pg_terminate_backend(pid) FROM job_leader")
            try await QueueTest.waitUntil("the first session ended") {
                try await QueueTest.count(connection, "SELECT count(*) FROM pg_stat_activity WHERE pid = (SELECT pid FROM job_leader)") == 0
            }
            #expect(try await lead(second, "b"), "a dead leader's place is free at once")
            // A term that ran out frees the place though the session lives (a hung daemon).
            let third = try await Connection.connect(url)
            #expect(try await lead(third, "c") == false)
            try await connection.execute("UPDATE job_leader SET expires_at = now() - interval '1 second'")
            #expect(try await lead(third, "c"))
            #expect(try await second.query("SELECT jobs_resign('b') AS r")[0].decode("r", as: Bool.self) == false, "only the leader resigns")
            #expect(try await third.query("SELECT jobs_resign('c') AS r")[0].decode("r", as: Bool.self))
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM job_leader") == 0)
        }
    }

    @Test func threeWorkersEnqueueAPeriodicSlotOnceAndThenTheNext() async throws {
        try await QueueTest.withDatabase { url, connection in
            // Days before the real one: the database refuses a slot more than a day ahead of its
            // clock (sql/024), so the daemons' fixed clock is set in the past.
            var utc = Calendar(identifier: .gregorian)
            utc.timeZone = .gmt
            let today = utc.startOfDay(for: Date())
            @Sendable func day(_ offset: Int, at hour: Int) -> Date { today.addingTimeInterval(Double(offset * 86_400 + hour * 3600)) }
            let clock = Mutex(day(-2, at: 12))
            let schedule = try Schedule.parse("every day at 02:00 UTC")
            let periodic = PeriodicJob(name: "nightly", schedule: schedule, job: NewJob(kind: "noop"))
            var noop = JobRegistry()
            noop.register(NoopJob())
            let registry = noop
            let configure: @Sendable (inout JobWorkerConfiguration) -> Void = {
                $0.periodic = [periodic]
                $0.now = { clock.withLock { $0 } }
            }
            let nightly: Query = "SELECT count(*) FROM jobs WHERE unique_key LIKE 'periodic:nightly:%'"
            try await QueueTest.withWorker(url, registry, configure) {
                try await QueueTest.withWorker(url, registry, configure) {
                    try await QueueTest.withWorker(url, registry, configure) {
                        try await QueueTest.waitUntil("the slot was enqueued") { try await QueueTest.count(connection, nightly) >= 1 }
                        // Ten ticks of each worker (50 ms apart) try the same slot.
                        try await Task.sleep(for: .milliseconds(500))
                        #expect(try await QueueTest.count(connection, nightly) == 1)
                        clock.withLock { $0 = day(-1, at: 12) }
                        try await QueueTest.waitUntil("the next slot was enqueued") { try await QueueTest.count(connection, nightly) >= 2 }
                        try await Task.sleep(for: .milliseconds(500))
                        #expect(try await QueueTest.count(connection, nightly) == 2)
                    }
                }
            }
            let keys = try await connection.query("SELECT unique_key, state FROM jobs WHERE unique_key LIKE 'periodic:%' ORDER BY id")
            let slots = [day(-2, at: 2), day(-1, at: 2)].map { "periodic:nightly:" + $0.postgresText }
            #expect(try keys.map { try $0.decode("unique_key", as: String.self) } == slots)
            #expect(try keys.allSatisfy { try $0.decode("state", as: JobState.self) == .succeeded })
            // Two leaders at once (one hung past its term and came back) take a slot once.
            let maintainers = (0..<2).map { index in
                Maintainer(database: ReconnectingConnection(conninfo: url, applicationName: "jobqueue-tests", role: "maintenance", logger: QueueTest.logger),
                           owner: "m\(index)", configuration: QueueTest.configuration(url), logger: QueueTest.logger)
            }
            let third = day(0, at: 2)
            async let first = maintainers[0].enqueue(periodic, slot: third)
            async let second = maintainers[1].enqueue(periodic, slot: third)
            let both = try await [first, second]
            #expect(both.compactMap { $0 }.count == 1)
            #expect(try await maintainers[0].enqueue(periodic, slot: day(-1, at: 2)) == nil, "an earlier slot is not enqueued again")
            for maintainer in maintainers { maintainer.database.close() }
            #expect(try await QueueTest.count(connection, nightly) == 3)
            let slot = try await connection.query("SELECT last_slot = \(third) AS latest, schedule FROM job_periodic WHERE name = 'nightly'")
            #expect(try slot[0].decode("latest", as: Bool.self))
            #expect(try slot[0].decode("schedule", as: String.self) == "every day at 02:00 UTC")
        }
    }

    @Test func aLeaderThatStopsHandsMaintenanceOnAndRetentionRunsAsAPeriodicJob() async throws {
        try await QueueTest.withDatabase { url, connection in
            // Old finished jobs, and one still queued.
            try await connection.execute("""
                INSERT INTO jobs (kind, state, finished_at) SELECT 'noop', 'succeeded', now() - interval '8 days' FROM generate_series(1, 2500)
                """)
            let queued = try await connection.enqueue(NewJob(kind: "held", runAt: Date().addingTimeInterval(3600)))
            var registry = JobRegistry()
            registry.register(NoopJob())
            let configure: @Sendable (inout JobWorkerConfiguration) -> Void = {
                $0.retention = .seconds(7 * 86_400)
                $0.workerID = "retainer"
            }
            try await QueueTest.withWorker(url, registry, configure) {
                try await QueueTest.waitUntil("retention pruned the old jobs") {
                    try await QueueTest.count(connection, "SELECT count(*) FROM jobs WHERE finished_at < now() - interval '7 days'") == 0
                }
                let leader = try await connection.query("SELECT worker FROM job_leader")
                #expect(try leader.map { try $0.decode("worker", as: String.self) } == ["retainer"])
                #expect(try await JobAdmin(connection).health(maximumWait: .seconds(300)).leader == "retainer")
            }
            #expect(try await QueueTest.count(connection, "SELECT count(*) FROM job_leader") == 0, "a stopping leader resigns")
            #expect(try await JobAdmin(connection).health(maximumWait: .seconds(300)).leader == nil)
            #expect(try await QueueTest.state(of: queued.id, connection) == .scheduled)
            let prune = try await connection.query("SELECT state, queue FROM jobs WHERE kind = 'prune-jobs'")
            #expect(prune.count == 1)
            #expect(try prune[0].decode("state", as: JobState.self) == .succeeded)
        }
    }
}

/// Fails its first two attempts (each retried 10 ms later, the tests' backoff).
struct FlakyJob: JobHandler {
    typealias Arguments = NoArguments
    static let kind = "testing.flaky"
    struct Flaked: Error {}
    func run(_ arguments: NoArguments, context: JobContext) async throws {
        if context.job.attempt <= 2 { throw Flaked() }
    }
}

/// Snoozes for 100 ms when it first runs (its run-at is still when it was enqueued).
struct SnoozingJob: JobHandler {
    typealias Arguments = NoArguments
    static let kind = "testing.snoozing"
    func run(_ arguments: NoArguments, context: JobContext) async throws {
        if context.job.runAt == context.job.createdAt { throw JobControl.snooze(.milliseconds(100)) }
    }
}

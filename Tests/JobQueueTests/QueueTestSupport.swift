import Foundation
import Logging
import Postgres
import ServiceLifecycle
import Synchronization
import TestSupport
@testable import JobQueue

/// Scratch databases, workers and waiting, for the job queue's tests.
enum QueueTest {
    /// A migrated scratch database with a `testing_effects` table, where the test handlers
    /// (and receptiond's `--testing-kinds`) record one row per effect.
    static func withDatabase<T>(_ body: (String, Connection) async throws -> T) async throws -> T {
        try await TestDatabase.withMigratedDatabase { url in
            let connection = try await Connection.connect(url, applicationName: "jobqueue-tests")
            try await createEffectsTable(on: connection)
            return try await body(url, connection)
        }
    }

    static func createEffectsTable(on connection: Connection) async throws {
        try await connection.executeScript("""
            CREATE TABLE testing_effects (
                job_id bigint NOT NULL,
                attempt integer NOT NULL,
                pid integer NOT NULL,
                at timestamptz NOT NULL DEFAULT clock_timestamp()
            )
            """)
    }

    /// Settings that keep tests quick: short polls, fast retries.
    static func configuration(_ url: String, _ configure: (inout JobWorkerConfiguration) -> Void = { _ in }) -> JobWorkerConfiguration {
        var configuration = JobWorkerConfiguration(conninfo: url)
        configuration.pollInterval = .milliseconds(50)
        // Retries 10 ms apart wait for staging: stage often.
        configuration.stageInterval = .milliseconds(50)
        // No periodic prune job among the jobs a test counts (MaintenanceTests has its own).
        configuration.retention = nil
        configuration.retryPolicy = .exponentialJitter(base: .milliseconds(10), maximum: .milliseconds(100), jitter: 0.2)
        configuration.gracePeriod = .seconds(5)
        configuration.applicationName = "jobqueue-tests"
        configure(&configuration)
        return configuration
    }

    static var logger: Logger {
        var logger = Logger(label: "jobqueue-tests")
        logger.logLevel = .critical
        return logger
    }

    /// Runs a worker in drain mode until nothing is ready.
    static func drain(_ url: String, _ registry: JobRegistry, _ configure: (inout JobWorkerConfiguration) -> Void = { _ in }) async throws {
        let configuration = configuration(url) {
            $0.drain = true
            configure(&$0)
        }
        try await JobWorker(configuration: configuration, registry: registry, logger: logger).run()
    }

    /// Runs a worker in a service group while `body` runs, then shuts it down gracefully.
    static func withWorker<T: Sendable>(
        _ url: String, _ registry: JobRegistry,
        _ configure: @escaping (inout JobWorkerConfiguration) -> Void = { _ in },
        _ body: @Sendable () async throws -> T
    ) async throws -> T {
        let worker = JobWorker(configuration: configuration(url, configure), registry: registry, logger: logger)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [worker], logger: logger))
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            do {
                let value = try await body()
                await group.triggerGracefulShutdown()
                while let next = try await tasks.next() { _ = next }
                return value
            } catch {
                await group.triggerGracefulShutdown()
                tasks.cancelAll()
                throw error
            }
        }
    }

    struct TimedOut: Error, CustomStringConvertible {
        let what: String
        var description: String { "timed out waiting until \(what)" }
    }

    /// Polls `condition` until it holds, failing after `timeout`.
    static func waitUntil(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            if ContinuousClock.now > deadline { throw TimedOut(what: what) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    static func count(_ connection: Connection, _ query: Query) async throws -> Int {
        try await connection.query(query)[0].decode(0, as: Int.self)
    }

    static func state(of id: Int64, _ connection: Connection) async throws -> JobState {
        try await connection.query("SELECT state FROM jobs WHERE id = \(id)")[0].decode("state", as: JobState.self)
    }
}

/// Records, in memory, the order in which jobs ran.
final class RunLog: Sendable {
    private let entries = Mutex<[Int64]>([])
    func append(_ id: Int64) { entries.withLock { $0.append(id) } }
    var ids: [Int64] { entries.withLock { $0 } }
}

/// `test.record`: notes its job id in a RunLog and succeeds.
struct RecordJob: JobHandler {
    typealias Arguments = NoArguments
    static let kind = "test.record"
    let log: RunLog
    func run(_ arguments: NoArguments, context: JobContext) async throws {
        log.append(context.job.id)
    }
}

/// `test.effect`: writes one row to testing_effects in the transaction that completes the job.
struct EffectJob: JobHandler {
    struct Arguments: Codable, Sendable {
        var sleepMilliseconds: Int? = nil
    }
    static let kind = "test.effect"
    func run(_ arguments: Arguments, context: JobContext) async throws {
        if let sleep = arguments.sleepMilliseconds { try await Task.sleep(for: .milliseconds(sleep)) }
        let (id, attempt) = (context.job.id, context.job.attempt)
        try await context.complete { transaction in
            try await transaction.execute("INSERT INTO testing_effects (job_id, attempt, pid) VALUES (\(id), \(attempt), 0)")
        }
    }
}

struct Boom: Error, CustomStringConvertible {
    let attempt: Int
    var description: String { "boom on attempt \(attempt)" }
}

/// `test.fail`: always fails.
struct FailingJob: JobHandler {
    typealias Arguments = NoArguments
    static let kind = "test.fail"
    func run(_ arguments: NoArguments, context: JobContext) async throws {
        throw Boom(attempt: context.job.attempt)
    }
}

/// `test.spin`: runs until its task is cancelled (noting its job id in `stopped` then), or for
/// ever; its timeout comes from its arguments.
struct SpinJob: JobHandler {
    struct Arguments: Codable, Sendable {
        var timeoutMilliseconds: Int? = nil
    }
    static let kind = "test.spin"
    let stopped: RunLog
    func timeout(for arguments: Arguments) -> Duration? { arguments.timeoutMilliseconds.map { .milliseconds($0) } }
    func run(_ arguments: Arguments, context: JobContext) async throws {
        do {
            while true { try await Task.sleep(for: .milliseconds(10)) }
        } catch {
            stopped.append(context.job.id)
            throw error
        }
    }
}

/// `test.slow-commit`: completes its job in a transaction that writes its effect and then
/// holds the job's row for a minute (as a batch's write holds it for seconds), unless stopped.
struct SlowCommitJob: JobHandler {
    typealias Arguments = NoArguments
    static let kind = "test.slow-commit"
    let started: RunLog
    func run(_ arguments: NoArguments, context: JobContext) async throws {
        let (id, attempt) = (context.job.id, context.job.attempt)
        try await context.complete { transaction in
            try await transaction.execute("INSERT INTO testing_effects (job_id, attempt, pid) VALUES (\(id), \(attempt), 0)")
            started.append(id)
            _ = try await transaction.query("SELECT pg_sleep(60)")
        }
    }
}

/// `test.lose-session`: ends its own database session, as a crashing backend or an
/// administrator's pg_terminate_backend would.
struct LoseSessionJob: JobHandler {
    typealias Arguments = NoArguments
    static let kind = "test.lose-session"
    func run(_ arguments: NoArguments, context: JobContext) async throws {
        try await context.withConnection { connection in
            _ = try await connection.query("SELECT pg_terminate_backend(pg_backend_pid())")
        }
    }
}

/// `test.stubborn`: ignores cancellation until the test releases it, as a handler stuck in a
/// blocking call would.
struct StubbornJob: JobHandler {
    typealias Arguments = NoArguments
    static let kind = "test.stubborn"
    final class Release: Sendable {
        private let flag = Atomic<Bool>(false)
        func release() { flag.store(true, ordering: .relaxed) }
        var isReleased: Bool { flag.load(ordering: .relaxed) }
    }
    let released: Release
    func timeout(for arguments: NoArguments) -> Duration? { .milliseconds(200) }
    func run(_ arguments: NoArguments, context: JobContext) async throws {
        while !released.isReleased { try? await Task.sleep(for: .milliseconds(10)) }
    }
}

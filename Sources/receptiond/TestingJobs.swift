import Foundation
import JobQueue
import Postgres

/// Job kinds for Reception's test suite, registered only with the hidden `--testing-kinds`
/// flag. They write to `testing_effects`, a table the tests create in their scratch database.
enum TestingJobs {
    static func register(in registry: inout JobRegistry) {
        registry.register(EffectJob())
        registry.register(CrashJob())
    }

    /// `testing.effect`: sleeps, then records one effect row in the same transaction that
    /// completes the job — so the tests can count that every job took effect exactly once.
    struct EffectJob: JobHandler {
        struct Arguments: Codable, Sendable {
            var sleepMilliseconds: Int?
            /// Sleep only on attempts up to this number (default: every attempt).
            var slowAttempts: Int?
            /// Fail (throw) on attempts up to this number.
            var failAttempts: Int?
        }
        static let kind = "testing.effect"

        func run(_ arguments: Arguments, context: JobContext) async throws {
            if let sleep = arguments.sleepMilliseconds, sleep > 0, context.job.attempt <= arguments.slowAttempts ?? .max {
                try await Task.sleep(for: .milliseconds(sleep))
            }
            if let failAttempts = arguments.failAttempts, context.job.attempt <= failAttempts {
                throw TestingFailure(attempt: context.job.attempt)
            }
            let (id, attempt) = (context.job.id, context.job.attempt)
            try await context.complete { transaction in
                try await transaction.execute("""
                    INSERT INTO testing_effects (job_id, attempt, pid) VALUES (\(id), \(attempt), \(Int(getpid())))
                    """)
            }
        }
    }

    struct TestingFailure: Error, CustomStringConvertible {
        let attempt: Int
        var description: String { "testing failure on attempt \(attempt)" }
    }

    /// `testing.crash`: kills its own daemon with SIGKILL, every time.
    struct CrashJob: JobHandler {
        typealias Arguments = NoArguments
        static let kind = "testing.crash"

        func run(_ arguments: NoArguments, context: JobContext) async throws {
            kill(getpid(), SIGKILL)
            try await Task.sleep(for: .seconds(60))
        }
    }
}

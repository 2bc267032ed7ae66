import ArgumentParser
import Foundation
import JobQueue
import Postgres
import ReceptionKit

struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Inspect and manage the job queue that receptiond drains.",
        discussion: """
            Reception's background work (allocation batches, imports, notices, reports) runs as \
            jobs in PostgreSQL. A job is scheduled (due later), available (ready, waiting \
            for a daemon), running (claimed by a receptiond), succeeded, retryable (failed, or \
            its daemon was lost; it runs again after a backoff), discarded (failed on its last \
            attempt: the dead letter) or cancelled. Higher priority runs first, then earlier \
            run-at, then lower id.

            Examples:
              reception jobs stats
              reception jobs list --state discarded
              reception jobs show 4711
              reception jobs retry 4711
              reception jobs health --max-wait 5m     # for monitoring: exit 1 when unhealthy
              reception jobs pause default; reception jobs resume default
              reception jobs enqueue --kind noop --count 1000
            """,
        subcommands: [List.self, Show.self, Stats.self, Health.self, Retry.self, Cancel.self, Pause.self, Resume.self,
                      Prune.self, Enqueue.self]
    )

    // MARK: list

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List jobs, newest first.",
            discussion: "Example: reception jobs list --state retryable --kind allocation-batch --limit 20")

        @Option(help: ArgumentHelp("Only jobs in this state: \(JobState.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "state"))
        var state: String?
        @Option(help: ArgumentHelp("Only jobs of this kind.", valueName: "kind"))
        var kind: String?
        @Option(help: ArgumentHelp("Only jobs of this queue.", valueName: "name"))
        var queue: String?
        @Option(help: ArgumentHelp("At most this many jobs.", valueName: "n"))
        var limit = 50

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if let state, JobState(rawValue: state) == nil {
                throw ValidationError("--state is one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard limit >= 1 else { throw ValidationError("--limit is at least 1") }
        }

        func run() async throws {
            let database = try await connection.connect()
            let jobs = try await JobAdmin(database).list(state: state.flatMap(JobState.init(rawValue:)), kind: kind, queue: queue, limit: limit)
            if output.json {
                try JSONOutput.print(jobs.map(JobSummary.init))
                return
            }
            if jobs.isEmpty {
                print("No jobs.")
                return
            }
            print(TerminalTable(
                headers: ["ID", "QUEUE", "KIND", "STATE", "ATTEMPT", "PRIORITY", "RUN AT", "CREATED"],
                rows: jobs.map { job in
                    [String(job.id), job.queue, job.kind, job.state.rawValue, "\(job.attempt)/\(job.maxAttempts)",
                     String(job.priority), JobsFormat.time(job.runAt), JobsFormat.time(job.createdAt)]
                },
                numericColumns: [0, 4, 5]
            ).render())
        }
    }

    // MARK: show

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one job with its error history.",
            discussion: "Example: reception jobs show 4711 --json")

        @Argument(help: ArgumentHelp("The job's id.", valueName: "id"))
        var id: Int64

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let database = try await connection.connect()
            guard let job = try await JobAdmin(database).job(id) else {
                throw CLIError("no job \(id)", exitCode: ExitCodes.notFound)
            }
            if output.json {
                try JSONOutput.print(job)
                return
            }
            var lines: [(String, String)] = [
                ("id", String(job.id)),
                ("kind", job.kind),
                ("queue", job.queue),
                ("state", job.state.rawValue),
                ("attempt", "\(job.attempt) of \(job.maxAttempts)"),
                ("priority", String(job.priority)),
                ("run at", JobsFormat.time(job.runAt)),
                ("created at", JobsFormat.time(job.createdAt)),
                ("attempted at", job.attemptedAt.map(JobsFormat.time) ?? "-"),
                ("finished at", job.finishedAt.map(JobsFormat.time) ?? "-"),
                ("worker", job.leaseOwner ?? "-"),
            ]
            if job.state == .running { lines.append(("lease until", job.leaseExpiresAt.map(JobsFormat.time) ?? "-")) }
            if let requested = job.cancelRequestedAt, !job.state.isFinished {
                lines.append(("cancel asked", JobsFormat.time(requested) + " (its daemon stops it at its next heartbeat)"))
            }
            if let key = job.uniqueKey { lines.append(("unique key", key)) }
            lines.append(("arguments", job.arguments))
            let width = lines.map(\.0.count).max() ?? 0
            for (name, value) in lines {
                print(name + ":" + String(repeating: " ", count: width - name.count + 1) + TerminalText.escaped(value))
            }
            print("")
            if job.errors.isEmpty {
                print("No errors.")
            } else {
                print("Errors (\(job.errors.count)):")
                print(TerminalTable(
                    headers: ["AT", "ATTEMPT", "WORKER", "MESSAGE"],
                    rows: job.errors.map { [JobsFormat.time($0.at), String($0.attempt), $0.worker ?? "-", $0.message] },
                    numericColumns: [1]
                ).render())
            }
        }
    }

    // MARK: stats

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Count jobs per queue and state, and show how long the oldest ready job has waited.",
            discussion: "A growing wait means the daemons do not keep up: add --concurrency or daemons. Example: reception jobs stats --json")

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let database = try await connection.connect()
            let stats = try await JobAdmin(database).stats()
            if output.json {
                try JSONOutput.print(stats)
                return
            }
            if stats.isEmpty {
                print("The queue is empty.")
                return
            }
            print(TerminalTable(
                headers: ["QUEUE", "AVAILABLE", "SCHEDULED", "RUNNING", "RETRYABLE", "SUCCEEDED", "DISCARDED", "CANCELLED", "OLDEST READY"],
                rows: stats.map { queue in
                    [queue.queue, String(queue.count(.available)), String(queue.count(.scheduled)),
                     String(queue.count(.running)), String(queue.count(.retryable)), String(queue.count(.succeeded)),
                     String(queue.count(.discarded)), String(queue.count(.cancelled)),
                     queue.oldestReadySeconds.map { DurationText.format(.milliseconds(Int64($0 * 1000))) } ?? "-"]
                },
                numericColumns: Set(1...8)
            ).render())
        }
    }

    // MARK: health

    struct Health: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that daemons are alive and keep up: exit 1 if not (for monitoring).",
            discussion: """
                Unhealthy when no receptiond heartbeated within its lease (none runs, or all \
                died), or when the oldest job that is ready to run, in a queue that is not \
                paused, has waited longer than --max-wait. Prints each daemon (its id, login, \
                queues, running jobs, last heartbeat) and the problems. Exit codes: 0 healthy, \
                1 unhealthy, 64 bad command line, 69 the database cannot be reached, 77 this login may \
                not read the queue, 78 the database is not migrated.

                Example (a systemd timer or a monitoring agent): reception jobs health --max-wait 10m --json
                """)

        @Option(name: .customLong("max-wait"), help: ArgumentHelp("The longest a ready job may wait (30s, 5m, 1h).", valueName: "duration"))
        var maxWait = "5m"

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard DurationText.parse(maxWait) != nil else { throw ValidationError("--max-wait: not a duration (30s, 5m, 1h)") }
        }

        func run() async throws {
            let database = try await connection.connect()
            let health = try await JobAdmin(database).health(maximumWait: DurationText.parse(maxWait)!)
            if output.json {
                try JSONOutput.print(health)
            } else {
                print(health.isHealthy ? "Healthy." : "Unhealthy: " + health.problems.joined(separator: "; ") + ".")
                if !health.workers.isEmpty {
                    print(TerminalTable(
                        headers: ["DAEMON", "LOGIN", "QUEUES", "RUNNING", "LAST HEARTBEAT", "ALIVE"],
                        rows: health.workers.map { worker in
                            [worker.id, worker.login, worker.queues.joined(separator: ","), "\(worker.running)/\(worker.concurrency)",
                             DurationText.format(.milliseconds(Int64(worker.secondsSinceHeartbeat * 1000))) + " ago",
                             worker.alive ? "yes" : "no"]
                        }, numericColumns: [3]).render())
                }
                print("Maintenance (making due jobs ready, rescuing the jobs of dead daemons, periodic jobs): " + (health.leader.map { "led by \(TerminalText.escaped($0))" } ?? "no daemon leads it now"))
                if !health.pausedQueues.isEmpty { print("Paused queues: " + health.pausedQueues.joined(separator: ", ")) }
                if let oldest = health.oldestReadySeconds {
                    print("Oldest ready job: waiting \(DurationText.format(.milliseconds(Int64(oldest * 1000)))).")
                }
            }
            if !health.isHealthy { throw ExitCode(ExitCodes.failure) }
        }
    }

    // MARK: pause, resume

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop daemons from taking jobs of a queue; its jobs wait, running ones finish.",
            discussion: "Example: reception jobs pause default (then reception jobs resume default)")

        @Argument(help: ArgumentHelp("The queue.", valueName: "queue"))
        var queue: String

        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard NewJob.isValidQueueName(queue) else { throw ValidationError(NewJob.queueNameRule) }
        }

        func run() async throws {
            let database = try await connection.connect()
            let paused = try await JobAdmin(database).pause(queue: queue)
            print(paused ? "Queue \(TerminalText.escaped(queue)) is paused: no daemon takes its jobs until it is resumed."
                         : "Queue \(TerminalText.escaped(queue)) was already paused.")
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Let daemons take jobs of a paused queue again.",
            discussion: "Example: reception jobs resume default")

        @Argument(help: ArgumentHelp("The queue.", valueName: "queue"))
        var queue: String

        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            guard NewJob.isValidQueueName(queue) else { throw ValidationError(NewJob.queueNameRule) }
        }

        func run() async throws {
            let database = try await connection.connect()
            let resumed = try await JobAdmin(database).resume(queue: queue)
            print(resumed ? "Queue \(TerminalText.escaped(queue)) is resumed." : "Queue \(TerminalText.escaped(queue)) was not paused.")
        }
    }

    // MARK: retry

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a job again now (a discarded, cancelled, retryable or succeeded one).",
            discussion: "A discarded job gets one more attempt; its error history stays. Example: reception jobs retry 4711")

        @Argument(help: ArgumentHelp("The job's id.", valueName: "id"))
        var id: Int64

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let database = try await connection.connect()
            let job: JobRecord?
            do {
                job = try await JobAdmin(database).retry(id)
            } catch let error as JobQueueError {
                throw CLIError("\(error)", exitCode: ExitCodes.failure)
            } catch let error as PostgresError where error.sqlState == .uniqueViolation {
                throw CLIError("job \(id) cannot run again while another job with its unique key is queued or running", exitCode: ExitCodes.failure)
            }
            try JobsCommand.report(job, id: id, json: output.json) { "Job \($0.id) (\(TerminalText.escaped($0.kind))) is available again." }
        }
    }

    // MARK: cancel

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel a job that has not finished.",
            discussion: """
                Returns at once. A queued job will not run. A running job's daemon can no longer \
                complete it: its writes roll back, and its daemon stops the handler at its next \
                heartbeat (a third of the lease: 10 s by default).

                When the job's row is locked at that moment (its handler committing its result, \
                or a daemon claiming it), the cancel is recorded beside the job ("cancel asked" in \
                jobs show): its daemon stops the handler at its next heartbeat and the job ends \
                cancelled, unless the handler's commit came first — then it succeeded, and says so.

                Example: reception jobs cancel 4711
                """)

        @Argument(help: ArgumentHelp("The job's id.", valueName: "id"))
        var id: Int64

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func run() async throws {
            let database = try await connection.connect()
            let cancellation: JobAdmin.Cancellation?
            do {
                cancellation = try await JobAdmin(database).cancel(id)
            } catch let error as JobQueueError {
                throw CLIError("\(error)", exitCode: ExitCodes.failure)
            }
            try JobsCommand.report(cancellation?.job, id: id, json: output.json) { job in
                let name = "Job \(job.id) (\(TerminalText.escaped(job.kind)))"
                guard case .requested = cancellation else { return "\(name) is cancelled." }
                return "\(name) is committing its result right now, so the cancel was recorded: its daemon stops it at its next heartbeat and it ends cancelled, unless that commit finishes first. Follow it with: reception jobs show \(job.id)"
            }
        }
    }

    // MARK: prune

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete finished jobs (succeeded, discarded, cancelled) older than a given age.",
            discussion: "receptiond also prunes on its own (its --retention). Example: reception jobs prune --older-than 30d")

        @Option(name: .customLong("older-than"), help: ArgumentHelp("Finished longer ago than this (30m, 12h, 7d; 0 deletes every finished job).", valueName: "duration"))
        var olderThan = "7d"

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard DurationText.parse(olderThan) != nil else { throw ValidationError("--older-than: not a duration (30m, 12h, 7d)") }
        }

        func run() async throws {
            let database = try await connection.connect()
            let age = DurationText.parse(olderThan)!
            let deleted = try await JobAdmin(database).prune(olderThan: age)
            if output.json {
                try JSONOutput.print(["deleted": deleted])
            } else {
                print("Deleted \(deleted) finished job\(deleted == 1 ? "" : "s") older than \(DurationText.format(age)).")
            }
        }
    }

    // MARK: enqueue

    struct Enqueue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add jobs to the queue (for smoke tests, benchmarks and manual runs).",
            discussion: """
                With --count, the jobs go in with one COPY and one wake-up, in one transaction. \
                --streams N splits them over N connections that COPY in parallel, each in a \
                transaction of its own: faster where the server has cores to spare, but if one \
                stream fails the others' jobs stay (the error says how many went in). A unique \
                key makes a second enqueue return the queued or running job instead of adding one.

                Examples:
                  reception jobs enqueue --kind noop
                  reception jobs enqueue --kind noop --count 100000
                  reception jobs enqueue --kind noop --count 1000000 --streams 2
                  reception jobs enqueue --kind noop --args '{"n":1}' --unique-key smoke-1
                """)

        @Option(help: ArgumentHelp("The job kind (a receptiond must have a handler for it).", valueName: "kind"))
        var kind: String
        @Option(help: ArgumentHelp("How many identical jobs.", valueName: "n"))
        var count = 1
        @Option(help: ArgumentHelp("With --count: parallel COPY streams, each its own connection and transaction.", valueName: "n"))
        var streams = 1
        @Option(help: ArgumentHelp("The arguments, a JSON value.", valueName: "json"))
        var args = "{}"
        @Option(help: ArgumentHelp("The queue.", valueName: "name"))
        var queue = NewJob.defaultQueue
        @Option(help: ArgumentHelp("Higher runs first.", valueName: "n"))
        var priority = 0
        @Option(help: ArgumentHelp("Run no earlier than this from now (30s, 5m, 2h).", valueName: "duration"))
        var delay: String?
        @Option(name: .customLong("max-attempts"), help: ArgumentHelp("Attempts before the job is discarded (default 10).", valueName: "n"))
        var maxAttempts: Int?
        @Option(name: .customLong("unique-key"), help: ArgumentHelp("At most one queued or running job with this key (only with --count 1).", valueName: "key"))
        var uniqueKey: String?

        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard count >= 1 && count <= 10_000_000 else { throw ValidationError("--count is between 1 and 10000000") }
            guard (try? JSONSerialization.jsonObject(with: Data(args.utf8), options: [.fragmentsAllowed])) != nil else {
                throw ValidationError("--args is not valid JSON")
            }
            if let delay, DurationText.parse(delay) == nil { throw ValidationError("--delay: not a duration (30s, 5m, 2h)") }
            if uniqueKey != nil && count != 1 { throw ValidationError("--unique-key goes with --count 1") }
            guard streams >= 1 && streams <= 64 else { throw ValidationError("--streams is between 1 and 64") }
            if streams > 1 && (delay != nil || maxAttempts != nil) { throw ValidationError("--streams goes with jobs due now and the default attempts (one COPY each)") }
            if let maxAttempts, maxAttempts < 1 { throw ValidationError("--max-attempts is at least 1") }
        }

        func run() async throws {
            let database = try await connection.connect()
            let runAt = delay.flatMap(DurationText.parse).map { Date().addingTimeInterval(Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18) }
            let job = NewJob(kind: kind, argumentsJSON: args, queue: queue, priority: priority, runAt: runAt,
                             maxAttempts: maxAttempts, uniqueKey: uniqueKey)
            do {
                if count == 1 {
                    let enqueued = try await database.enqueue(job)
                    if output.json {
                        try JSONOutput.print(EnqueueResult(ids: [enqueued.id], enqueued: enqueued.inserted ? 1 : 0, seconds: nil))
                    } else if enqueued.inserted {
                        print("Enqueued job \(enqueued.id) (\(kind)).")
                    } else {
                        print("Job \(enqueued.id) with this unique key is already queued or running; nothing added.")
                    }
                    return
                }
                let shares = (0..<min(streams, count)).map { count / streams + ($0 < count % streams ? 1 : 0) }
                var connections = [database]
                for _ in 1..<shares.count { connections.append(try await connection.connect()) }
                let started = ContinuousClock.now
                let enqueued = try await Self.enqueue(job, shares: shares, on: connections)
                let seconds = (ContinuousClock.now - started) / .seconds(1)
                if output.json {
                    try JSONOutput.print(EnqueueResult(ids: nil, enqueued: enqueued, seconds: seconds))
                } else {
                    print("Enqueued \(enqueued) \(kind) jobs in \(String(format: "%.3f", seconds)) s (\(Int(Double(enqueued) / max(seconds, 1e-9))) jobs/s).")
                }
            } catch let error as JobQueueError {
                throw CLIError("\(error)", exitCode: ExitCodes.usage)
            }
        }

        /// Each share COPYed on its own connection, all at once; how many went in.
        static func enqueue(_ job: NewJob, shares: [Int], on connections: [Connection]) async throws -> Int {
            if shares.count == 1 { return try await connections[0].enqueue([NewJob](repeating: job, count: shares[0])) }
            let (enqueued, failure) = await withTaskGroup(of: Result<Int, any Error>.self) { group in
                for (share, database) in zip(shares, connections) {
                    group.addTask {
                        do { return .success(try await database.enqueue([NewJob](repeating: job, count: share))) } catch { return .failure(error) }
                    }
                }
                var (enqueued, failure): (Int, (any Error)?) = (0, nil)
                for await result in group {
                    switch result {
                    case .success(let count): enqueued += count
                    case .failure(let error): failure = failure ?? error
                    }
                }
                return (enqueued, failure)
            }
            if let failure {
                throw CLIError("a COPY stream failed (\(failure)); the other streams enqueued \(enqueued) jobs", exitCode: ExitCodes.unavailable)
            }
            return enqueued
        }

        struct EnqueueResult: Encodable {
            let ids: [Int64]?
            let enqueued: Int
            /// Time spent in the database for a bulk enqueue (connecting excluded).
            let seconds: Double?
        }
    }
}

/// A job in `list`, `retry` and `cancel` output for scripts: everything but the arguments and
/// the history (`jobs show --json` has those).
struct JobSummary: Encodable {
    let id: Int64
    let queue: String
    let kind: String
    let state: String
    let attempt: Int
    let maxAttempts: Int
    let priority: Int
    let runAt: Date
    let createdAt: Date
    let attemptedAt: Date?
    let finishedAt: Date?
    /// An operator asked to cancel it while its row was locked (`jobs cancel`).
    let cancelRequestedAt: Date?
    let errorCount: Int

    init(_ job: JobRecord) {
        id = job.id
        queue = job.queue
        kind = job.kind
        state = job.state.rawValue
        attempt = job.attempt
        maxAttempts = job.maxAttempts
        priority = job.priority
        runAt = job.runAt
        createdAt = job.createdAt
        attemptedAt = job.attemptedAt
        finishedAt = job.finishedAt
        cancelRequestedAt = job.cancelRequestedAt
        errorCount = job.errors.count
    }
}

enum JobsFormat {
    /// `2026-11-02 14:03:07Z`: UTC, to the second.
    static func time(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        return formatter.string(from: date) + "Z"
    }
}

extension JobsCommand {
    /// Prints the job an operator's change returned (JSON or a sentence), or says it does not exist.
    static func report(_ job: JobRecord?, id: Int64, json: Bool, _ sentence: (JobRecord) -> String) throws {
        guard let job else { throw CLIError("no job \(id)", exitCode: ExitCodes.notFound) }
        if json {
            try JSONOutput.print(JobSummary(job))
        } else {
            print(sentence(job))
        }
    }
}

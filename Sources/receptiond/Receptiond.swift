import ArgumentParser
import Foundation
import JobQueue
import Logging
import ReceptionKit
import ServiceLifecycle

/// receptiond: the worker daemon that drains Reception's job queue.
@main
struct Receptiond: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receptiond",
        abstract: "Run Reception's jobs: drain the job queue in PostgreSQL.",
        discussion: """
            Claims jobs from the queues named with --queue, runs up to --concurrency of them at \
            once, and records how each ended. Run one daemon, or several on one host or many \
            against the same database: they share the work safely, and a job whose daemon dies \
            (SIGKILL, out of memory, a lost host) is rescued by another once its lease expires.

            SIGTERM or SIGINT: stop claiming, stop running allocation batches at once (they go \
            back to the queue for another daemon), let other running jobs finish within \
            --grace-period, hand unfinished ones back to the queue, exit 0. An attempt that runs \
            past its timeout, or whose job an operator cancelled (reception jobs cancel), or \
            that another daemon rescued, has its handler stopped (within one heartbeat). A lost database connection is \
            re-opened with backoff, logged, and nothing is lost meanwhile.

            Logs go to stderr, with job.id, job.kind, job.queue and job.attempt; never a job's \
            arguments. Exit codes: 0 done, 1 failed, 64 usage, 69 the database stayed \
            unreachable for --startup-timeout at start, 78 configuration (the database refuses \
            the connection: wrong database, role or password; or it is not migrated).

            Examples:
              receptiond --database-url postgresql:///reception
              receptiond --queue default --queue imports --concurrency 20
              receptiond --drain          # run what is ready now, then exit
            """
    )

    static func main() async {
        StopSignals.install()
        await main(nil)
    }

    @Option(
        name: .customLong("database-url"),
        help: ArgumentHelp(
            "A libpq connection string or URI.",
            discussion: "Defaults to $RECEPTION_DATABASE_URL, then to libpq's own defaults (PGHOST, PGDATABASE, ...).",
            valueName: "url"))
    var databaseURL: String?

    @Option(help: ArgumentHelp("How many jobs run at once.", valueName: "n"))
    var concurrency = 10

    @Option(help: ArgumentHelp("How many jobs to claim ahead of free slots, so that a slot that frees starts its next job at once (0: none). A prefetched job waits a short while for a slot (2 s), then goes back to the queue.", valueName: "n"))
    var prefetch = 200

    @Option(name: .customLong("queue"), help: ArgumentHelp("A queue to take jobs from; repeat for several.", discussion: "Default: default.", valueName: "name"))
    var queues: [String] = []

    @Flag(help: "Run every job that is ready, then exit 0 (for batch use and benchmarks). Jobs scheduled later, or waiting for a retry, stay queued.")
    var drain = false

    @Option(name: .customLong("grace-period"), help: ArgumentHelp("After SIGTERM, how long running jobs may take to finish before they are handed back to the queue (500ms, 30s, 5m).", valueName: "duration"))
    var gracePeriod = "30s"

    @Option(name: .customLong("statement-timeout"), help: ArgumentHelp("The longest any one statement of the daemon may run; 'off' for none.", valueName: "duration"))
    var statementTimeout = "5m"
    @Option(name: .customLong("lock-timeout"), help: ArgumentHelp("The longest a statement waits for a lock (an officer's open transaction, say) before its job's attempt fails and is retried; 'off' for none.", valueName: "duration"))
    var lockTimeout = "10s"
    @Option(name: .customLong("idle-in-transaction-timeout"), help: ArgumentHelp("How long a session of the daemon may sit idle inside a transaction before the server ends it; 'off' for none.", valueName: "duration"))
    var idleInTransactionTimeout = "1m"
    @Option(name: .customLong("startup-timeout"), help: ArgumentHelp("At start, how long to retry a database that cannot be reached before exiting 69 (a refused login exits 78 at once).", valueName: "duration"))
    var startupTimeout = "30s"
    @Option(name: .customLong("job-timeout"), help: ArgumentHelp("How long one attempt of a job may run, for kinds without a timeout of their own (an allocation batch has its time limit plus 2 minutes); then its handler is stopped and the attempt fails.", valueName: "duration"))
    var jobTimeout = "15m"
    @Option(help: ArgumentHelp("How long a job's claim holds without a heartbeat; a job whose daemon died runs again about this long after (extended every third of it).", valueName: "duration"))
    var lease = "30s"

    @Option(name: .customLong("poll-interval"), help: ArgumentHelp("How often to look for ready jobs when no notification came: scheduled jobs and retries.", valueName: "duration"))
    var pollInterval = "1s"

    @Option(help: ArgumentHelp("Delete finished jobs older than this (a periodic prune-jobs job, see --prune-schedule); 'off' keeps them.", valueName: "duration"))
    var retention = "7d"

    @Option(name: .customLong("prune-schedule"), help: ArgumentHelp("When retention's prune-jobs job runs, enqueued once per slot however many daemons run: 'every hour', 'every 15m', 'every day at 03:00 Europe/Stockholm', 'every sunday at 04:00 Europe/Stockholm'.", valueName: "schedule"))
    var pruneSchedule = "every hour"

    @Option(name: .customLong("log-level"), help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel = "info"

    @Option(name: .customLong("log-format"), help: ArgumentHelp("text for people, json for log collectors (one object per line).", valueName: "format"))
    var logFormat = "text"

    /// Registers the kinds that Reception's test suite uses. Not for production.
    @Option(name: .customLong("deadline-check-schedule"), help: ArgumentHelp("When the daily deadline-check job records the households that became due or overdue (for `reception case notices`); 'off' runs none.", valueName: "schedule"))
    var deadlineCheckSchedule = DeadlineCheckJob.defaultSchedule

    @Flag(name: .customLong("testing-kinds"), help: .hidden)
    var testingKinds = false

    /// Holds the start this long before the service group runs, so that a test can signal the
    /// daemon in the moment before it. Not for production.
    @Option(name: .customLong("testing-start-delay"), help: .hidden)
    var testingStartDelay: String?

    func validate() throws {
        guard concurrency >= 1 && concurrency <= 10_000 else { throw ValidationError("--concurrency is between 1 and 10000") }
        guard prefetch >= 0 && prefetch <= 100_000 else { throw ValidationError("--prefetch is between 0 and 100000") }
        guard Logger.Level(rawValue: logLevel.lowercased()) != nil else {
            throw ValidationError("--log-level is one of trace, debug, info, notice, warning, error, critical")
        }
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format is text or json") }
        for (name, value) in [("--grace-period", gracePeriod), ("--lease", lease), ("--poll-interval", pollInterval),
                              ("--startup-timeout", startupTimeout), ("--job-timeout", jobTimeout)] {
            guard DurationText.parse(value) != nil else { throw ValidationError("\(name): not a duration (500ms, 30s, 5m, 2h, 7d)") }
        }
        guard let lease = DurationText.parse(lease), lease >= .seconds(1) else { throw ValidationError("--lease is at least 1s") }
        guard let jobTimeout = DurationText.parse(jobTimeout), jobTimeout > .zero else { throw ValidationError("--job-timeout is more than 0s") }
        for (name, value) in [("--statement-timeout", statementTimeout), ("--lock-timeout", lockTimeout),
                              ("--idle-in-transaction-timeout", idleInTransactionTimeout)]
        where value != "off" && DurationText.parse(value) == nil {
            throw ValidationError("\(name): a duration (500ms, 10s, 5m) or 'off'")
        }
        guard retention == "off" || DurationText.parse(retention) != nil else {
            throw ValidationError("--retention: a duration (7d, 12h) or 'off'")
        }
        do {
            _ = try Schedule.parse(pruneSchedule)
        } catch {
            throw ValidationError("--prune-schedule: \(error.problem)")
        }
        if deadlineCheckSchedule != "off" {
            do {
                _ = try Schedule.parse(deadlineCheckSchedule)
            } catch {
                throw ValidationError("--deadline-check-schedule: \(error.problem)")
            }
        }
        for queue in queues where !NewJob.isValidQueueName(queue) {
            throw ValidationError("--queue: \(NewJob.queueNameRule)")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel.lowercased()) ?? .info
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "receptiond")

        var configuration = JobWorkerConfiguration(conninfo: DatabaseURL.resolve(databaseURL))
        configuration.applicationName = "receptiond"  // in pg_stat_activity
        configuration.queues = queues.isEmpty ? [NewJob.defaultQueue] : queues
        configuration.concurrency = concurrency
        configuration.prefetch = prefetch
        configuration.drain = drain
        configuration.gracePeriod = DurationText.parse(gracePeriod)!
        configuration.startupRetryBudget = DurationText.parse(startupTimeout)!
        configuration.statementTimeout = statementTimeout == "off" ? nil : DurationText.parse(statementTimeout)
        configuration.lockTimeout = lockTimeout == "off" ? nil : DurationText.parse(lockTimeout)
        configuration.idleInTransactionTimeout = idleInTransactionTimeout == "off" ? nil : DurationText.parse(idleInTransactionTimeout)
        configuration.leaseDuration = DurationText.parse(lease)!
        configuration.jobTimeout = DurationText.parse(jobTimeout)!
        configuration.pollInterval = DurationText.parse(pollInterval)!
        configuration.retention = retention == "off" ? nil : DurationText.parse(retention)
        configuration.pruneSchedule = try Schedule.parse(pruneSchedule)
        if deadlineCheckSchedule != "off" {
            configuration.periodic.append(PeriodicJob(
                name: DeadlineCheckJob.kind, schedule: try Schedule.parse(deadlineCheckSchedule),
                job: try NewJob(DeadlineCheckJob.self, arguments: .init(), queue: configuration.queues.sorted()[0])))
        }

        configuration.startupCheck = { try await Migrations.checkCurrent(on: $0) }

        if let testingStartDelay, let delay = DurationText.parse(testingStartDelay) {
            logger.info("testing: holding the start", metadata: ["delay": "\(testingStartDelay)"])
            try? await Task.sleep(for: delay)
        }

        let worker = JobWorker(configuration: configuration, registry: registry(), logger: logger)
        // SIGTERM and SIGINT are StopSignals' from main's first statement on, not the group's.
        var group = ServiceGroupConfiguration(
            services: [
                .init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "worker"),
                .init(service: StopSignalWatcher(), successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "stop-signals"),
            ],
            logger: logger)
        // The worker stops within its grace period and wind-down, and abandons handlers that
        // ignore cancellation (10 s after asking, also once this deadline cancels it); this is
        // the last resort should the worker itself not end.
        group.maximumGracefulShutdownDuration = configuration.gracePeriod + JobWorker.windDown + .seconds(10)
        do {
            try await ServiceGroup(configuration: group).run()
        } catch let error as JobQueueError {
            switch error {
            case .notMigrated:
                logger.critical("\(error)", metadata: ["hint": "run `reception db migrate` against this database first (or check that --database-url names the right one)"])
                throw ExitCode(78)
            case .notPermitted:
                logger.critical("\(error)", metadata: ["hint": "log in as a worker login, one IN ROLE reception_worker (README: Roles and logins)"])
                throw ExitCode(78)
            case .invalidConfiguration:
                logger.critical("\(error)", metadata: ["hint": "check --database-url or RECEPTION_DATABASE_URL (database, role, password, pg_hba.conf), and that the database is migrated"])
                throw ExitCode(78)
            case .databaseUnreachable:
                logger.critical("\(error)", metadata: ["hint": "is the server up and reachable? (--startup-timeout sets how long to retry)"])
                throw ExitCode(69)
            default:
                logger.critical("stopped by an error", metadata: ["error": "\(error)"])
                throw ExitCode(1)
            }
        } catch let error as Migrations.Behind {
            logger.critical("\(error)", metadata: ["hint": "run `reception db migrate` of this release against the database first"])
            throw ExitCode(78)
        } catch is CancellationError {
            return  // SIGTERM before the worker started: nothing ran, nothing to hand back
        } catch {
            logger.critical("stopped by an error", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }

    /// The job kinds this daemon runs.
    func registry() -> JobRegistry {
        var registry = JobRegistry()
        registry.register(NoopJob())
        registry.register(AllocationBatchJob())
        registry.register(DeadlineCheckJob())
        if testingKinds { TestingJobs.register(in: &registry) }
        return registry
    }
}

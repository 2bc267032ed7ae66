import Dispatch
import Logging
import Postgres
import ServiceLifecycle
import Synchronization

/// Drains the job queue: a `Service` that claims jobs in batches (its free slots plus a
/// prefetch, with `FOR UPDATE SKIP LOCKED`), runs them concurrently with their registered
/// handlers, and records how each ended.
///
/// - Wakes on LISTEN/NOTIFY when jobs of its queues are enqueued, and polls only as a fallback.
/// - Extends the leases of the jobs it holds, and stops the handlers of jobs it no longer holds
///   or that ran past their timeout.
/// - Takes its turn, when elected, at the queue's maintenance: staging due jobs, rescuing
///   jobs whose worker died, enqueuing periodic jobs (`Maintainer`).
/// - Survives database restarts: every connection reconnects with backoff, and nothing is
///   lost meanwhile (see `ReconnectingConnection`).
/// - On graceful shutdown (SIGTERM in a `ServiceGroup`) it stops claiming, hands back at once
///   the jobs it prefetched and those of kinds that ask to be interrupted, lets the other
///   running jobs finish within the grace period, then cancels the rest and hands them back.
/// - In drain mode it returns once nothing is ready to run.
///
/// Several workers, in one process or many, on one host or many, can share a database.
public struct JobWorker: Service {
    public let configuration: JobWorkerConfiguration
    private let registry: JobRegistry
    private let logger: Logger

    public init(configuration: JobWorkerConfiguration, registry: JobRegistry, logger: Logger) {
        self.configuration = configuration
        var registry = registry
        // Retention's periodic job, which any daemon may claim.
        if registry.handler(for: PruneJob.kind) == nil { registry.register(PruneJob()) }
        self.registry = registry
        self.logger = logger
    }

    /// How long stopping may take beyond the grace period, at most, with the database gone: the
    /// claim's last pause between reconnects, then writing outcomes, handing jobs back and
    /// removing the daemon's presence, each with its own limit (30 s in all).
    public static let windDown = ReconnectingConnection.longestPause
        + WorkerRuntime.outcomesLimit + WorkerRuntime.handBackLimit + WorkerRuntime.goodbyeLimit

    public func run() async throws {
        let runtime = WorkerRuntime(configuration: try configuration.validated(), registry: registry, logger: logger)
        try await runtime.run()
    }
}

/// One run of a worker: its connections, its slots, its loops.
final class WorkerRuntime: Sendable {
    let configuration: JobWorkerConfiguration
    let registry: JobRegistry
    let logger: Logger
    let owner: String

    /// The claim loop's wake-up: jobs enqueued, slots freed, outcomes written, shutdown.
    let wake = Wakeup()
    let slots: WorkerSlots
    let prefetched: PrefetchBuffer
    let claimDatabase: ReconnectingConnection
    let completionDatabase: ReconnectingConnection
    let listenDatabase: ReconnectingConnection
    let leaseDatabase: ReconnectingConnection
    let maintenanceDatabase: ReconnectingConnection
    let completions: CompletionBatcher
    /// Connections for handlers (transactional completion), opened on demand.
    let handlerPool: ConnectionPool
    private let stopping = Atomic<Bool>(false)
    private let jobsEnded = Atomic<Bool>(false)

    init(configuration: JobWorkerConfiguration, registry: JobRegistry, logger baseLogger: Logger) {
        var logger = baseLogger
        logger[metadataKey: "worker.id"] = "\(configuration.workerID)"
        self.configuration = configuration
        var registry = registry
        // Retention's periodic job, which any daemon may claim.
        if registry.handler(for: PruneJob.kind) == nil { registry.register(PruneJob()) }
        self.registry = registry
        self.logger = logger
        self.owner = configuration.workerID
        slots = WorkerSlots(concurrency: configuration.concurrency, wake: wake)
        prefetched = PrefetchBuffer(hold: configuration.prefetchHold)
        let (conninfo, name, settings) = (configuration.conninfo, configuration.applicationName, configuration.sessionSettings)
        claimDatabase = ReconnectingConnection(conninfo: conninfo, applicationName: name, settings: settings, role: "claim", logger: logger)
        completionDatabase = ReconnectingConnection(conninfo: conninfo, applicationName: name, settings: settings, role: "complete", logger: logger)
        leaseDatabase = ReconnectingConnection(conninfo: conninfo, applicationName: name, settings: settings, role: "lease", logger: logger)
        maintenanceDatabase = ReconnectingConnection(conninfo: conninfo, applicationName: name, settings: settings, role: "maintenance", logger: logger)
        listenDatabase = NotificationListener.connection(conninfo: conninfo, applicationName: name, settings: settings, logger: logger, wake: wake)
        completions = CompletionBatcher(database: completionDatabase, owner: configuration.workerID, logger: logger, written: wake)
        handlerPool = ConnectionPool(conninfo: conninfo, maximumConnections: configuration.handlerConnections,
                                     applicationName: name, settings: settings, logger: logger)
    }

    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// The limits of stopping's steps after the grace period (see `JobWorker.windDown`).
    static let outcomesLimit: Duration = .seconds(10)
    static let handBackLimit: Duration = .seconds(10)
    static let goodbyeLimit: Duration = .seconds(5)

    /// A sleep that cancellation does not cut short (`Task.sleep` would return at once, and a
    /// loop around it spin).
    private static func pause(_ duration: Duration) async {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().asyncAfter(deadline: .now() + duration.seconds) { continuation.resume() }
        }
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        let interrupted = slots.interruptAtShutdown()
        if interrupted > 0 {
            logger.info("stopping the running jobs of kinds that are interrupted at shutdown (allocation batches); they go back to the queue", metadata: ["jobs.count": "\(interrupted)"])
        }
        wake.signal()
    }

    func run() async throws {
        // Started with SIGTERM pending or the database down: the start ends on graceful
        // shutdown too, not only the loops.
        let (present, mayWork) = try await cancelWhenGracefulShutdown {
            try await self.claimDatabase.run(giveUpAfter: self.configuration.startupRetryBudget) { connection in
                let present = try await connection.query(JobStatements.isMigrated)[0].decode("present", as: Bool.self)
                let mayWork = present ? try await connection.query(JobStatements.mayWork)[0].decode("may_work", as: Bool?.self) : nil
                if present, mayWork == true { try await self.configuration.startupCheck(connection) }
                return (present, mayWork)
            }
        }
        guard present, let mayWork else { throw JobQueueError.notMigrated }
        guard mayWork else { throw JobQueueError.notPermitted }
        logger.info("worker started", metadata: [
            "worker.queues": "\(configuration.queues.joined(separator: ","))",
            "worker.concurrency": "\(configuration.concurrency)",
            "worker.kinds": "\(registry.kinds.joined(separator: ","))",
            "worker.drain": "\(configuration.drain)",
            "worker.prefetch": "\(configuration.prefetch)",
            "worker.job_timeout": "\(DurationText.format(configuration.jobTimeout))",
        ])
        await withTaskCancellationOrGracefulShutdownHandler {
            await withDiscardingTaskGroup { background in
                background.addTask { await NotificationListener(database: self.listenDatabase, wake: self.wake, queues: Set(self.configuration.queues)).run() }
                background.addTask {
                    await LeaseKeeper(database: self.leaseDatabase, owner: self.owner, configuration: self.configuration,
                                      slots: self.slots, prefetched: self.prefetched, completions: self.completions,
                                      logger: self.logger).run()
                }
                background.addTask { await self.completions.run() }
                background.addTask {
                    await Maintainer(database: self.maintenanceDatabase, owner: self.owner, configuration: self.configuration,
                                     logger: self.logger).run()
                }
                background.addTask {
                    // The watchdog of timeouts and handlers that do not stop (see WorkerSlots.sweep).
                    // It runs until the jobs have ended, cancelled or not: when the service group
                    // escalates a slow shutdown to cancellation, it is what abandons a handler that
                    // ignores cancellation, which would otherwise hold the process for ever.
                    while !self.jobsEnded.load(ordering: .acquiring) {
                        self.slots.sweep(stopTimeout: self.configuration.handlerStopTimeout)
                        await Self.pause(.milliseconds(100))
                    }
                }
                await self.process()
                self.jobsEnded.store(true, ordering: .releasing)
                background.cancelAll()
            }
        } onCancelOrGracefulShutdown: {
            self.stop()
        }
        // After the heartbeats ended, or one would put the row back.
        let (owner, database) = (owner, claimDatabase)
        _ = await withTimeout(Self.goodbyeLimit) {
            // One try when the connection is broken: the daemon is stopping.
            try? await database.run(stopping: { true }) { connection in _ = try await connection.execute(JobStatements.removePresence(owner: owner)) }
        }
        handlerPool.close()
        for database in [claimDatabase, completionDatabase, listenDatabase, leaseDatabase, maintenanceDatabase] { database.close() }
        logger.info("worker stopped")
    }

    /// Claims and runs jobs until told to stop (or, draining, until nothing is ready), then
    /// winds down: running jobs get the grace period, outcomes are written, and whatever is
    /// still running under this worker's name goes back to the queue.
    private func process() async {
        await withDiscardingTaskGroup { jobs in
            await claimLoop(&jobs)
            let running = slots.runningCount
            if running > 0 {
                logger.info("waiting for running jobs to finish", metadata: [
                    "jobs.count": "\(running)", "worker.grace_period": "\(DurationText.format(configuration.gracePeriod))",
                ])
                if await !slots.waitUntilIdle(timeout: configuration.gracePeriod) {
                    logger.warning("grace period over: cancelling unfinished jobs and handing them back to the queue", metadata: [
                        "jobs.count": "\(slots.runningCount)",
                    ])
                    jobs.cancelAll()
                }
            }
        }
        // Each step after the grace period has its limit (`JobWorker.windDown` sums them, and
        // the service group's deadline allows for it).
        if await !completions.waitUntilWritten(timeout: Self.outcomesLimit) {
            logger.warning("could not record the outcome of every job before stopping; they will be rescued when their leases expire", metadata: [
                "jobs.count": "\(completions.backlog)",
            ])
        }
        let (owner, queues) = (owner, configuration.queues)
        let database = claimDatabase
        let handedBack = await withTimeout(Self.handBackLimit) { () -> Int? in
            try? await database.run(stopping: { true }) { connection in
                let count = try await connection.execute(JobStatements.handBackAll(owner: owner, keeping: []))
                if count > 0 { try await connection.execute(JobStatements.notify(queues: queues)) }
                return count
            }
        }
        switch handedBack ?? nil {
        case let count? where count > 0:
            logger.info("handed unfinished jobs back to the queue", metadata: ["jobs.count": "\(count)"])
        case nil:
            logger.warning("could not hand this daemon's jobs back to the queue (the database could not be reached); any it still held are rescued when their leases expire")
        default:
            break
        }
    }

    /// Keeps the slots full: starts prefetched jobs as slots free, and claims in one statement
    /// as many jobs as there are free slots plus room in the prefetch buffer, once that is at
    /// least a quarter of both (so that claims come in batches, not one by one).
    private func claimLoop(_ jobs: inout DiscardingTaskGroup) async {
        let backlogLimit = max(1000, 4 * (configuration.concurrency + configuration.prefetch))
        let claimThreshold = max(1, (configuration.concurrency + configuration.prefetch) / 4)
        var generation = 0
        var drainedOnce = false
        // After jobs waited out their hold, claim no more ahead for as long: the slots are
        // taken by long jobs, and re-claiming the same jobs every hold would only churn.
        var prefetchPausedUntil = ContinuousClock.now
        while !isStopping && !Task.isCancelled {
            for job in prefetched.take(slots.free) { start(job, in: &jobs) }
            let expired = prefetched.takeExpired()
            if !expired.isEmpty {
                handBack(expired, reason: "waited for a slot longer than the prefetch hold")
                prefetchPausedUntil = .now + configuration.prefetchHold
            }

            let prefetch = ContinuousClock.now < prefetchPausedUntil ? 0 : configuration.prefetch
            let room = slots.free + max(0, prefetch - prefetched.count)
            let idle = slots.runningCount == 0 && prefetched.count == 0
            if completions.backlog >= backlogLimit || room <= 0 || (room < claimThreshold && !idle) {
                await wake.wait(timeout: configuration.pollInterval)
                continue
            }
            let claimed: [ClaimedJob]
            do {
                let (owner, lease, queues) = (owner, configuration.leaseDuration, configuration.queues)
                claimed = try await claimDatabase.run(stopping: { self.isStopping }) { connection in
                    try await connection.query(JobStatements.claim(owner: owner, lease: lease, queues: queues, limit: room))
                        .map(ClaimedJob.init(row:))
                }
            } catch {
                if isStopping || Task.isCancelled { break }
                logger.error("claiming jobs failed; trying again", metadata: ["error": "\(error)"])
                await wake.wait(timeout: configuration.pollInterval)
                continue
            }
            let current = claimDatabase.generation
            if current != generation {
                if generation > 0 {
                    // A new connection after an outage: the jobs waiting in the buffer may have
                    // been rescued meanwhile, and a claim interrupted by the lost connection
                    // may have committed without our hearing of it. Hand both back.
                    handBack(prefetched.take(Int.max), reason: "the database connection was replaced")
                    await handBackLostClaims(keeping: claimed.map(\.id))
                }
                generation = current
            }
            prefetched.add(claimed)
            if isStopping { break }
            for job in prefetched.take(slots.free) { start(job, in: &jobs) }
            if claimed.count < room {
                // Nothing more is ready now.
                if configuration.drain && claimed.isEmpty && slots.runningCount == 0 && prefetched.count == 0 {
                    // Every claimed job has finished; once their outcomes are written, stage
                    // what is due (a retry whose backoff ended: the elected daemon may be
                    // another) and look once more, then stop.
                    _ = await completions.waitUntilWritten(timeout: .seconds(3600))
                    let staged = try? await claimDatabase.run { connection in try await Maintainer.stage(on: connection) }
                    if drainedOnce && (staged ?? 0) == 0 {
                        // A retry due within a poll interval is part of the drain (a short
                        // backoff must not decide whether it ran); a later one is not, nor
                        // one already due that staging left (it would not be staged by waiting).
                        if let wait = await nextRetryDue(), wait > .zero, wait <= configuration.pollInterval {
                            try? await Task.sleep(for: wait + .milliseconds(1))
                            continue
                        }
                        logger.info("drained: no job is ready to run")
                        break
                    }
                    drainedOnce = true
                    continue
                }
                drainedOnce = false
                await wake.wait(timeout: configuration.pollInterval)
            } else {
                drainedOnce = false
            }
        }
        // Not started: back to the queue at once, for the other daemons (not after the grace period).
        handBack(prefetched.take(Int.max), reason: "the daemon is stopping")
    }

    private func nextRetryDue() async -> Duration? {
        let queues = configuration.queues
        let seconds = try? await claimDatabase.run { connection in
            try await connection.query(JobStatements.nextRetryDue(queues: queues))[0].decode("seconds", as: Double?.self)
        }
        return (seconds ?? nil).map { .milliseconds(Int64(($0 * 1000).rounded(.up))) }
    }

    private func start(_ job: ClaimedJob, in jobs: inout DiscardingTaskGroup) {
        slots.start(job.id)
        jobs.addTask { await self.execute(job) }
    }

    /// Prefetched jobs back to the queue, their attempt not counted (the batcher writes it).
    private func handBack(_ jobs: [ClaimedJob], reason: String) {
        guard !jobs.isEmpty else { return }
        for job in jobs { completions.add(job, .handedBack(counted: false)) }
        logger.debug("handing prefetched jobs back to the queue", metadata: ["jobs.count": "\(jobs.count)", "reason": "\(reason)"])
    }

    private func handBackLostClaims(keeping: [Int64]) async {
        // Read the slots before the batcher: a job moves from the first to the second.
        let keep = keeping + prefetched.ids + slots.runningIDs + completions.pendingIDs
        let (owner, queues) = (owner, configuration.queues)
        do {
            let count = try await claimDatabase.run { connection in
                let count = try await connection.execute(JobStatements.handBackAll(owner: owner, keeping: keep))
                if count > 0 { try await connection.execute(JobStatements.notify(queues: queues)) }
                return count
            }
            if count > 0 {
                logger.info("handed back jobs of a claim interrupted by the lost connection", metadata: ["jobs.count": "\(count)"])
            }
        } catch {
            logger.warning("could not hand back jobs of an interrupted claim; they will be rescued when their leases expire", metadata: [
                "error": "\(error)",
            ])
        }
    }

    // MARK: Running one job

    private func execute(_ job: ClaimedJob) async {
        let logger = logger.forJob(job)
        let outcome: JobOutcome
        if let handler = registry.handler(for: job.kind) {
            let policy = handler.retryPolicy ?? configuration.retryPolicy
            do {
                let attempt = try handler.prepare(job)
                outcome = await run(job, attempt, atShutdown: handler.atShutdown, policy: policy, logger: logger)
            } catch {
                outcome = self.outcome(of: error, job: job, policy: policy, logger: logger)
            }
        } else {
            let message = JobQueueError.unknownKind(job.kind).description
            outcome = .failed(message: message, retryDelay: configuration.retryPolicy.delay(afterAttempt: job.attempt))
        }
        // The outcome first, then the slot: whoever sees the slot free finds the outcome queued.
        completions.add(job, outcome)
        slots.finish(job.id)
    }

    /// Runs the handler in a task of its own, so that the worker can cancel it alone: when the
    /// attempt times out, when the job is no longer this worker's (the heartbeat finds out), and
    /// at shutdown. A handler that does not stop within `handlerStopTimeout` of being cancelled
    /// is abandoned (left to run on, its writes fenced off by the lease checks): a handler that
    /// ignores cancellation must not hold its slot, its lease or the shutdown for ever.
    private func run(_ job: ClaimedJob, _ attempt: AnyJobHandler.Attempt, atShutdown: ShutdownBehaviour,
                     policy: RetryPolicy, logger: Logger) async -> JobOutcome {
        let mark = CompletionMark()
        let context = JobContext(job: job, logger: logger, pool: handlerPool, owner: owner, completion: mark)
        // The handler's task reports its own end; the watchdog (`WorkerSlots.sweep`) may
        // report first that it gave up on it.
        let ended = FirstResult<Result<Void, any Error>?>()
        let handler = Task {
            do {
                try await attempt.run(context)
                ended.resolve(.success(()))
            } catch {
                ended.resolve(.failure(error))
            }
        }
        slots.attach(job.id, timeout: attempt.timeout ?? configuration.jobTimeout, interruptedAtShutdown: atShutdown == .interrupt,
                     cancel: { handler.cancel() }, abandon: { ended.resolve(nil) })
        if atShutdown == .interrupt && isStopping { slots.interrupt(job.id, .shutdown) }
        let (slots, stopTimeout) = (slots, configuration.handlerStopTimeout)
        logger.debug("job started")
        let result = await withTaskCancellationHandler {
            await ended.value
        } onCancel: {
            // The grace period is over: every job still running goes back to the queue.
            slots.interrupt(job.id, .shutdown)
        }
        let reason = slots.interruption(of: job.id)?.reason
        if result == nil {
            logger.error("the job's handler did not stop within \(DurationText.format(stopTimeout)) of being cancelled; abandoned (its writes can no longer commit)")
        }
        switch (result, reason) {
        case (_, .lost(let cancelledByOperator)?):
            if mark.isMarked {
                // It completed itself just before the heartbeat looked: nothing was lost.
                return .none
            } else if cancelledByOperator {
                logger.notice("job cancelled by an operator while running; its handler was stopped")
            } else {
                logger.warning("job was no longer held by this worker (its lease expired and it was rescued); its handler was stopped")
            }
            return .none
        case (_, .cancelRequested?):
            // The cancel came too late when the handler had ended, or committed its result.
            if case .success? = result {
                logger.notice("an operator asked to cancel a job whose handler had already ended; it succeeded")
                return mark.isMarked ? .none : .succeeded
            } else if mark.isMarked {
                logger.notice("an operator asked to cancel a job whose handler had already committed its result; it succeeded")
                return .none
            }
            logger.notice("job cancelled by an operator while running; its handler was stopped")
            return .finished(.cancelled, message: Interruption.cancelRequestedMessage)
        case (.success?, _):
            logger.debug("job succeeded")
            return mark.isMarked ? .none : .succeeded
        case (_, .timedOut(let limit)?):
            let message = "timed out after \(DurationText.format(limit))"
            logger.warning("job timed out; its handler was stopped", metadata: ["job.timeout": "\(DurationText.format(limit))"])
            return .failed(message: message, retryDelay: policy.delay(afterAttempt: job.attempt))
        case (_, .shutdown?):
            logger.info("job stopped at shutdown; handing it back to the queue")
            return .handedBack(counted: false)
        case (.failure(let error)?, nil):
            return outcome(of: error, job: job, policy: policy, logger: logger)
        case (nil, nil):
            return .handedBack(counted: false)  // abandoned without a reason: cannot happen
        }
    }

    private func outcome(of error: any Error, job: ClaimedJob, policy: RetryPolicy, logger: Logger) -> JobOutcome {
        switch error {
        case let control as JobControl:
            switch control {
            case .cancel: return .finished(.cancelled, message: Self.message(control))
            case .discard: return .finished(.discarded, message: Self.message(control))
            case .snooze(let delay): return .snoozed(delay)
            }
        case JobQueueError.leaseLost:
            logger.warning("job was no longer held by this worker (cancelled, or rescued after its lease expired); its writes were not committed")
            return .none
        case let error as PostgresError where error.isConnectionProblem:
            // Counted after a few hand-backs: a job whose session keeps dying ends discarded.
            logger.warning("lost the database while running a job; handing it back to the queue", metadata: ["error": "\(error)"])
            return .handedBack(counted: true)
        default:
            return .failed(message: Self.message(error), retryDelay: policy.delay(afterAttempt: job.attempt))
        }
    }

    /// An error's text for the job's history, bounded.
    static func message(_ error: any Error) -> String {
        let text = String(describing: error)
        return text.count > 2000 ? String(text.prefix(2000)) + "…" : text
    }
}

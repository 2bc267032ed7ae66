import Foundation
import Postgres

/// How a `JobWorker` runs. receptiond fills it from its command line.
public struct JobWorkerConfiguration: Sendable {
    /// A libpq connection string; nil means libpq's defaults.
    public var conninfo: String?
    /// The queues to take jobs from.
    public var queues: [String] = [NewJob.defaultQueue]
    /// How many jobs run at once.
    public var concurrency: Int = 10
    /// How many jobs are claimed ahead of free slots, to start the moment a slot frees: a claim
    /// fetches up to the free slots plus this, whatever `concurrency` is (0: claim only for
    /// free slots).
    public var prefetch: Int = 200
    /// The longest a prefetched job waits for a slot before it goes back to the queue for
    /// another worker (when every slot is taken by long jobs).
    public var prefetchHold: Duration = .seconds(2)
    /// Stop once no job is ready to run now and none is running here (for batch use and
    /// benchmarks). Jobs scheduled later, or waiting for a retry, stay queued.
    public var drain = false
    /// After SIGTERM: how long running jobs may take to finish before they are cancelled and
    /// handed back to the queue.
    public var gracePeriod: Duration = .seconds(30)
    /// Limits on every session of the worker, so that nothing waits for ever: a statement that
    /// runs longer than `statementTimeout`, waits for a lock longer than `lockTimeout`, or a
    /// transaction left idle longer than `idleInTransactionTimeout` fails (nil: no limit).
    /// A job failing so is retried like any failure.
    public var statementTimeout: Duration? = .seconds(300)
    public var lockTimeout: Duration? = .seconds(10)
    public var idleInTransactionTimeout: Duration? = .seconds(60)

    /// The server settings those limits become (milliseconds; 0 is PostgreSQL's "none").
    var sessionSettings: [(name: String, value: String)] {
        [("statement_timeout", statementTimeout), ("lock_timeout", lockTimeout),
         ("idle_in_transaction_session_timeout", idleInTransactionTimeout)].map { name, limit in
            (name, String(limit.map { max(1, $0.milliseconds) } ?? 0))
        }
    }

    /// How long one attempt of a job may run, for handlers that set no timeout of their own:
    /// then its handler is cancelled and the attempt fails ("timed out").
    public var jobTimeout: Duration = .seconds(900)
    /// How long a handler has to stop once cancelled (timeout, lost job, shutdown) before the
    /// worker abandons it and frees its slot.
    public var handlerStopTimeout: Duration = .seconds(10)

    /// At start, how long an unreachable database is retried before the worker gives up
    /// (`databaseUnreachable`). Once running, outages are retried for as long as they last.
    public var startupRetryBudget: Duration = .seconds(30)
    /// How long a claim holds without a heartbeat. The worker extends it every third of this;
    /// a job whose worker died runs again about this long after its last heartbeat.
    public var leaseDuration: Duration = .seconds(30)
    /// How often to look for ready jobs when no notification came (scheduled jobs, retries).
    public var pollInterval: Duration = .seconds(1)
    /// How often the elected daemon looks for jobs whose lease expired.
    public var rescueInterval: Duration = .seconds(5)
    /// How often the elected daemon makes due scheduled and retryable jobs available (and
    /// every daemon tries to be the elected one): a retry or a scheduled job starts at most
    /// this late.
    public var stageInterval: Duration = .seconds(1)
    /// Finished jobs older than this are deleted, by a periodic `prune-jobs` job; nil keeps them.
    public var retention: Duration? = .seconds(7 * 86_400)
    /// When retention's `prune-jobs` runs.
    public var pruneSchedule: Schedule = try! Schedule.parse("every hour")
    /// Jobs the elected daemon enqueues once per slot of their schedules (retention's is added
    /// to these). A draining worker enqueues none.
    public var periodic: [PeriodicJob] = []
    /// "Now", for the slots of periodic jobs: time is an input.
    public var now: @Sendable () -> Date = { Date() }
    /// Backoff between failed attempts, for handlers that set none.
    public var retryPolicy: RetryPolicy = .default
    /// Connections handlers may use at once (`JobContext.complete`, `withConnection`).
    public var handlerConnections: Int = 10
    /// Names this worker in leases and logs; unique per process.
    public var workerID: String = JobWorkerConfiguration.makeWorkerID()
    /// Shown in pg_stat_activity.
    public var applicationName = "jobqueue-worker"
    /// Run at start (again if the connection drops before it is through), after the queue's own checks: the
    /// application's check that the rest of its schema is what its handlers need. An error it
    /// throws ends `run()` as it is, before any job is claimed.
    public var startupCheck: @Sendable (Connection) async throws -> Void = { _ in }

    public init(conninfo: String? = nil) {
        self.conninfo = conninfo
    }

    /// `host:pid:random`, so that a restarted process never inherits its predecessor's leases.
    public static func makeWorkerID() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return "\(host):\(getpid()):\(random)"
    }

    func validated() throws -> JobWorkerConfiguration {
        guard concurrency >= 1 else { throw JobQueueError.invalidConfiguration("concurrency is at least 1") }
        guard prefetch >= 0 else { throw JobQueueError.invalidConfiguration("prefetch is at least 0") }
        guard !queues.isEmpty else { throw JobQueueError.invalidConfiguration("a worker needs at least one queue") }
        guard leaseDuration >= .milliseconds(300) else { throw JobQueueError.invalidConfiguration("a lease lasts at least 0.3 s") }
        var configuration = self
        configuration.queues = Array(Set(queues)).sorted()
        configuration.rescueInterval = min(rescueInterval, leaseDuration / 3)
        configuration.handlerConnections = max(1, min(handlerConnections, concurrency))
        guard stageInterval >= .milliseconds(10) else { throw JobQueueError.invalidConfiguration("staging runs at most every 10 ms") }
        let names = periodic.map(\.name)
        guard Set(names).count == names.count else { throw JobQueueError.invalidConfiguration("two periodic jobs are named alike") }
        if drain {
            configuration.periodic = []
        } else if let retention {
            configuration.periodic.append(PeriodicJob(
                name: PruneJob.kind, schedule: pruneSchedule,
                job: try NewJob(PruneJob.self, arguments: PruneJob.Arguments(olderThan: retention), queue: configuration.queues[0])))
        }
        return configuration
    }
}

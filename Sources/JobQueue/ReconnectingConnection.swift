import Logging
import Postgres
import Synchronization

/// One database connection for one task of the worker (claiming, completing, listening,
/// lease keeping), reopened with backoff whenever it breaks — the database restarted, the
/// network dropped, the server was not up yet — so that a worker outlives its database.
final class ReconnectingConnection: Sendable {
    let conninfo: String?
    let applicationName: String
    /// Server settings for the session (the worker's timeouts).
    let settings: [(name: String, value: String)]
    /// What the connection is for, in log lines (`claim`, `complete`, ...).
    let role: String
    private let logger: Logger
    /// Runs on each new connection before it is used (LISTEN, for the listener).
    private let onConnect: @Sendable (Connection) async throws -> Void

    private struct State {
        var connection: Connection?
        /// Counts connections opened; a change tells the user that one was replaced.
        var generation = 0
    }
    private let state = Mutex(State())

    init(conninfo: String?, applicationName: String, settings: [(name: String, value: String)] = [], role: String, logger: Logger,
         onConnect: @escaping @Sendable (Connection) async throws -> Void = { _ in }) {
        self.conninfo = conninfo
        self.applicationName = applicationName
        self.settings = settings
        self.role = role
        self.logger = logger
        self.onConnect = onConnect
    }

    /// The longest wait between two tries to reconnect.
    static let longestPause: Duration = .seconds(5)

    /// How many connections have been opened so far.
    var generation: Int { state.withLock { $0.generation } }

    /// Runs `body` on a working connection. When the connection turns out to be broken, it is
    /// replaced (waiting 0.1 s, 0.2 s, ... up to `longestPause` between tries, as long as it takes) and
    /// `body` runs again: `body` must be safe to repeat. Other errors, and cancellation, end it.
    ///
    /// A connection the server refuses for good (a wrong database, role or password) ends it
    /// at once with `invalidConfiguration`; with `giveUpAfter`, an outage longer than that
    /// ends it with `databaseUnreachable` (for a daemon's start, when nothing runs yet). Once
    /// `stopping` holds (the worker's graceful shutdown, which cancels nothing), a broken
    /// connection ends it with the connection's error instead of another try.
    func run<T: Sendable>(giveUpAfter budget: Duration? = nil, stopping: () -> Bool = { false },
                          _ body: (Connection) async throws -> T) async throws -> T {
        var outageStarted: ContinuousClock.Instant?
        var delay = Duration.milliseconds(100)
        var failures = 0
        while true {
            try Task.checkCancellation()
            do {
                let connection = try await connected()
                let value = try await body(connection)
                if let outageStarted {
                    let seconds = (ContinuousClock.now - outageStarted).seconds
                    logger.notice("database connection restored", metadata: [
                        "db.role": "\(role)", "db.outage_seconds": "\(String(format: "%.1f", seconds))",
                    ])
                }
                return value
            } catch let error as PostgresError where error.isConfigurationProblem {
                throw JobQueueError.invalidConfiguration("the database refused the connection: \(error)")
            } catch let error as PostgresError where error.isConnectionProblem {
                state.withLock { $0.connection = nil }
                if stopping() { throw error }
                if let budget, let outageStarted, ContinuousClock.now - outageStarted >= budget {
                    throw JobQueueError.databaseUnreachable("\(error)")
                }
                if outageStarted == nil {
                    outageStarted = .now
                    logger.warning("database connection lost; reconnecting", metadata: [
                        "db.role": "\(role)", "error": "\(error)",
                    ])
                } else if failures % 20 == 0 {
                    logger.warning("database still unavailable; retrying", metadata: [
                        "db.role": "\(role)", "error": "\(error)",
                        "db.outage_seconds": "\(String(format: "%.1f", (ContinuousClock.now - outageStarted!).seconds))",
                    ])
                }
                failures += 1
                var pause = delay * Double.random(in: 0.8...1.2)
                if let budget, let outageStarted {
                    // Never sleep past the budget: give up on time.
                    pause = max(.milliseconds(10), min(pause, budget - (ContinuousClock.now - outageStarted)))
                }
                try await Task.sleep(for: pause)
                delay = min(delay * 2, Self.longestPause)
            }
        }
    }

    /// Closes the connection (it reopens on next use).
    func close() {
        state.withLock { $0.connection = nil }
    }

    private func connected() async throws -> Connection {
        if let connection = state.withLock({ $0.connection }) { return connection }
        let connection = try await Connection.connect(conninfo, applicationName: applicationName, settings: settings, logger: logger)
        try await onConnect(connection)
        state.withLock {
            $0.connection = connection
            $0.generation += 1
        }
        return connection
    }
}

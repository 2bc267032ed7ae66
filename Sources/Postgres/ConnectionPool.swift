import CLibPQ
import Logging
import Synchronization

/// A small pool of connections for the daemon: at most `maximumConnections` open at once,
/// opened on demand, reused while healthy, replaced after a connection breaks.
public final class ConnectionPool: Sendable {
    public let conninfo: String?
    public let maximumConnections: Int
    private let applicationName: String
    private let logger: Logger

    private struct State {
        var idle: [Connection] = []
        var open = 0
        var closed = false
        /// Tasks waiting for a connection; resumed with one, or with nil meaning "open a new
        /// one in the slot just freed".
        var waiters: [CheckedContinuation<Connection?, any Error>] = []
    }
    private let settings: [(name: String, value: String)]
    private let state = Mutex(State())

    public init(conninfo: String?, maximumConnections: Int, applicationName: String = "reception",
                settings: [(name: String, value: String)] = [], logger: Logger) {
        precondition(maximumConnections > 0, "a pool needs at least one connection")
        self.conninfo = conninfo
        self.settings = settings
        self.maximumConnections = maximumConnections
        self.applicationName = applicationName
        self.logger = logger
    }

    /// Lends a connection for the duration of `body`. A connection that broke, or that `body`
    /// left inside a transaction, is closed rather than reused.
    public func withConnection<T>(_ body: (Connection) async throws -> T) async throws -> T {
        let connection = try await lease()
        do {
            let value = try await body(connection)
            release(connection)
            return value
        } catch {
            release(connection)
            throw error
        }
    }

    /// Closes idle connections and refuses new leases; leased ones close when returned.
    public func close() {
        let waiters = state.withLock { state in
            state.closed = true
            state.open -= state.idle.count
            state.idle.removeAll()
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(throwing: PostgresError.connectionFailed(reason: "the pool is closed")) }
    }

    private enum Lease {
        case reuse(Connection)
        case open
        case wait
        case closed
    }

    private func lease() async throws -> Connection {
        let decision: Lease = state.withLock { state in
            if state.closed { return .closed }
            if let connection = state.idle.popLast() { return .reuse(connection) }
            if state.open < maximumConnections { state.open += 1; return .open }
            return .wait
        }
        switch decision {
        case .reuse(let connection): return connection
        case .open: return try await openInSlot()
        case .closed: throw PostgresError.connectionFailed(reason: "the pool is closed")
        case .wait:
            let handed: Connection? = try await withCheckedThrowingContinuation { continuation in
                let resumeNow: Lease? = state.withLock { state in
                    // Re-check under the lock: a connection may have come back meanwhile.
                    if state.closed { return .closed }
                    if let connection = state.idle.popLast() { return .reuse(connection) }
                    if state.open < maximumConnections { state.open += 1; return .open }
                    state.waiters.append(continuation)
                    return nil
                }
                switch resumeNow {
                case .reuse(let connection): continuation.resume(returning: connection)
                case .open: continuation.resume(returning: nil)
                case .closed: continuation.resume(throwing: PostgresError.connectionFailed(reason: "the pool is closed"))
                case .wait, nil: break
                }
            }
            if let handed { return handed }
            return try await openInSlot()
        }
    }

    private func openInSlot() async throws -> Connection {
        do {
            return try await Connection.connect(conninfo, applicationName: applicationName, settings: settings, logger: logger)
        } catch {
            freeSlot()
            throw error
        }
    }

    private func release(_ connection: Connection) {
        let healthy = connection.isUsable && connection.transactionStatus == PQTRANS_IDLE
        guard healthy else {
            logger.debug("closing a broken connection", metadata: ["postgres.backend": "\(connection.backendPID)"])
            freeSlot()
            return
        }
        let waiter: CheckedContinuation<Connection?, any Error>? = state.withLock { state in
            if state.closed { state.open -= 1; return nil }
            if !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.idle.append(connection)
            return nil
        }
        waiter?.resume(returning: connection)
    }

    private func freeSlot() {
        let waiter: CheckedContinuation<Connection?, any Error>? = state.withLock { state in
            if !state.closed, !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.open -= 1
            return nil
        }
        waiter?.resume(returning: nil)
    }
}

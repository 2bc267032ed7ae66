import CLibPQ
import Dispatch
import Foundation
import Logging

/// One connection to PostgreSQL through libpq.
///
/// Every libpq call runs on the connection's own serial dispatch queue (an overcommitting
/// queue with a thread of its own when busy), never on Swift's cooperative thread pool, so a
/// slow query or a long LISTEN wait blocks no other task. A connection serves one task at a
/// time, as libpq requires: a statement, a COPY or a whole transaction holds it, and another
/// task that wants it meanwhile waits (`ConnectionOwnership`); hand it around, or lend it out
/// from a `ConnectionPool`, for work to run side by side.
public final class Connection: @unchecked Sendable {
    // Written once in `connect`, then touched only from `queue`, except the thread-safe
    // PQcancel handle and the wake-up pipe.
    private let handle: OpaquePointer
    private let cancelHandle: OpaquePointer?
    private let queue: DispatchQueue
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let ownership = ConnectionOwnership()
    public let logger: Logger

    /// The server process serving this connection (for `pg_terminate_backend` and logs).
    public let backendPID: Int

    private init(handle: OpaquePointer, queue: DispatchQueue, wakeRead: Int32, wakeWrite: Int32, logger: Logger) {
        self.handle = handle
        self.cancelHandle = PQgetCancel(handle)
        self.queue = queue
        self.wakeRead = wakeRead
        self.wakeWrite = wakeWrite
        self.logger = logger
        self.backendPID = Int(PQbackendPID(handle))
    }

    deinit {
        if let cancelHandle { PQfreeCancel(cancelHandle) }
        PQfinish(handle)
        close(wakeRead)
        close(wakeWrite)
    }

    /// Connects with a libpq connection string — a URI (`postgresql://user@host/db?sslmode=require`)
    /// or `key=value` pairs — so libpq's conventions work unchanged: `PG*` environment variables,
    /// `~/.pgpass`, `sslmode`, unix sockets. nil or empty means libpq's defaults alone.
    /// `settings` are server settings for the session (`statement_timeout` = `30000`, ...), set
    /// right after connecting, before the caller's first statement; they add to a connection
    /// string's own `options`, and win over them.
    public static func connect(
        _ conninfo: String? = nil,
        applicationName: String = "reception",
        settings: [(name: String, value: String)] = [],
        logger: Logger = Logger(label: "reception.postgres")
    ) async throws -> Connection {
        let queue = DispatchQueue(label: "reception.postgres.connection")
        // A cancelled task (a daemon told to stop) leaves the blocking connect behind.
        let handle = try await PendingConnect.run { pending in
            queue.async { pending.finish(Connection.open(conninfo, applicationName: applicationName)) }
        }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            PQfinish(handle)
            throw PostgresError.connectionFailed(reason: "could not create a wake-up pipe (errno \(errno))")
        }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        let connection = Connection(handle: handle, queue: queue, wakeRead: fds[0], wakeWrite: fds[1], logger: logger)
        for setting in settings {
            // Session-wide (is_local false), as parameters: any name and value, safely.
            _ = try await connection.query("SELECT set_config(\(setting.name), \(setting.value), false)")
        }
        logger.debug("connected", metadata: ["postgres.backend": "\(connection.backendPID)"])
        return connection
    }

    /// libpq's blocking connect and the session's fixed settings, on the connection's queue.
    private static func open(_ conninfo: String?, applicationName: String) -> Result<OpaquePointer, any Error> {
        // Defaults first, so that the connection string's own win. Without connect_timeout a
        // host that drops packets would hold a connect for minutes; without keepalives and
        // tcp_user_timeout, a statement to a server whose host vanished (a failover across
        // machines) would wait for TCP's own timeouts, about 15 minutes. (Unix sockets ignore
        // the TCP ones.)
        let keywords = ["connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                        "dbname", "fallback_application_name", "client_encoding"]
        let values = ["10", "30", "10", "3", "30000", conninfo ?? "", applicationName, "UTF8"]
        let connection = withCStrings(keywords) { keywordPointers in
            withCStrings(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            return .failure(PostgresError.connectionFailed(reason: "libpq could not allocate a connection"))
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            // libpq quotes a connection string it cannot parse, password and all: never
            // let that reach a log or a terminal.
            let reason = Connection.redacted(Connection.errorMessage(connection), conninfo: conninfo)
            PQfinish(connection)
            return .failure(PostgresError.connectionFailed(reason: reason))
        }
        // libpq prints NOTICEs to stderr by default; they are not ours to print.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        // Fixed session settings, so that text values parse the same everywhere.
        let settings = PQexec(connection, "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 3")
        let ok = PQresultStatus(settings) == PGRES_COMMAND_OK
        PQclear(settings)
        guard ok else {
            let reason = Connection.errorMessage(connection)
            PQfinish(connection)
            return .failure(PostgresError.connectionFailed(reason: reason))
        }
        return .success(connection)
    }

    /// False once the connection broke; such a connection must be replaced.
    public var isUsable: Bool {
        queue.sync { PQstatus(handle) == CONNECTION_OK }
    }

    /// Whether a transaction is open, idle, or failed on this connection.
    var transactionStatus: PGTransactionStatusType {
        queue.sync { PQtransactionStatus(handle) }
    }

    // MARK: Statements

    /// Runs a statement and returns its rows.
    @discardableResult
    public func query(_ query: Query) async throws -> QueryResult {
        try await onConnectionQueue { connection in
            let result = Connection.withBindings(query.bindings) { values, types in
                PQexecParams(connection, query.sql, Int32(query.bindings.count), types, values, nil, nil, 0)
            }
            return try Connection.consume(result, on: connection)
        }
    }

    /// Runs a statement and returns how many rows it affected.
    @discardableResult
    public func execute(_ statement: Query) async throws -> Int {
        try await query(statement).affectedRows
    }

    /// Runs trusted SQL text that may hold several statements and takes no parameters — a
    /// migration file. Application code passes values with `query` and interpolation instead.
    public func executeScript(_ sql: String) async throws {
        _ = try await onConnectionQueue { connection in
            try Connection.consume(PQexec(connection, sql), on: connection)
        }
    }

    /// Quotes an identifier (a channel, table or database name) with libpq's own rules.
    public func quoteIdentifier(_ name: String) async throws -> String {
        try await onConnectionQueue { connection in
            let utf8 = Array(name.utf8)
            guard let quoted = PQescapeIdentifier(connection, name, utf8.count) else {
                throw PostgresError.protocolViolation("could not quote an identifier: \(Connection.errorMessage(connection))")
            }
            defer { PQfreemem(quoted) }
            return String(cString: quoted)
        }
    }

    // MARK: Running on the connection's queue

    /// Runs libpq work on the connection's queue. Cancelling the task asks the server to cancel
    /// the statement in flight (PQcancel is thread-safe), which then fails with `queryCanceled`;
    /// a statement cancelled before it was sent is not sent, and throws `CancellationError`.
    /// Work that sends no statement of its own (a wait for notifications) passes
    /// `sendsStatement: false`: it always runs, and cancelling wakes it.
    /// A statement that a task sends once it is already cancelled (a ROLLBACK on its way out)
    /// is cleanup: nothing asked to cancel it, and it runs.
    func onConnectionQueue<T: Sendable>(
        sendsStatement: Bool = true, _ work: @escaping @Sendable (OpaquePointer) throws -> T
    ) async throws -> T {
        try await owned { try await self.onQueue(sendsStatement: sendsStatement, work) }
    }

    /// Runs `body` while the current task holds this connection (at once if it does already).
    func owned<T>(_ body: () async throws -> T) async throws -> T {
        try await ownership.run(for: ObjectIdentifier(self), body)
    }

    private func onQueue<T: Sendable>(
        sendsStatement: Bool, _ work: @escaping @Sendable (OpaquePointer) throws -> T
    ) async throws -> T {
        let statement = sendsStatement && !Task.isCancelled ? StatementCancellation() : nil
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                queue.async {
                    if let statement, !statement.start() {
                        continuation.resume(throwing: CancellationError())
                        return
                    }
                    let result = Result { try work(self.handle) }
                    statement?.end()
                    continuation.resume(with: result)
                }
            }
        } onCancel: {
            if let statement, statement.cancel() {
                DispatchQueue.global().async { self.askServerToCancel(statement, timesLeft: 50) }
            }
            // Also ends a wait for notifications.
            var byte: UInt8 = 1
            _ = write(self.wakeWrite, &byte, 1)
        }
    }

    /// PQcancel, then again every 100 ms while the statement runs (for at most `timesLeft` more
    /// tries; statement_timeout is the backstop): the first one may reach the server before the
    /// statement does, and the server drops it. Never on the canceller's thread (a task of the
    /// cooperative pool, or the one stopping the daemon): PQcancel opens a connection of its own
    /// and waits for it, and a host that went away would hold that thread for connect_timeout.
    private func askServerToCancel(_ statement: StatementCancellation, timesLeft: Int) {
        guard let cancelHandle else { return }
        var buffer = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancelHandle, &buffer, Int32(buffer.count))
        guard timesLeft > 0 else { return }
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(100)) {
            if statement.isRunning { self.askServerToCancel(statement, timesLeft: timesLeft - 1) }
        }
    }

    /// Tests only: keeps the connection's queue busy until `release` is signalled, as a
    /// statement in flight would, so that the next statement waits behind it.
    func holdQueueForTesting(until release: DispatchSemaphore) {
        queue.async { release.wait() }
    }

    // MARK: libpq helpers (called on the queue)

    /// A connection error without what it quoted of the connection string: libpq quotes a
    /// string it cannot parse whole, and an option's bad value (`invalid sslmode value:
    /// "require&password=..."`), either of which may hold a password.
    static func redacted(_ reason: String, conninfo: String?) -> String {
        var reason = reason
        if let conninfo, !conninfo.isEmpty, reason.contains(conninfo) {
            reason = reason.replacingOccurrences(of: conninfo, with: "<the connection string>")
        }
        return reason.replacingOccurrences(of: #"value: "[^"]*""#, with: "value: (not shown)", options: .regularExpression)
    }

    static func errorMessage(_ connection: OpaquePointer) -> String {
        guard let message = PQerrorMessage(connection) else { return "unknown error" }
        let text = String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "unknown error" : text.replacingOccurrences(of: "\n", with: "; ")
    }

    /// Turns a result into rows or an error, and always clears it.
    static func consume(_ result: OpaquePointer?, on connection: OpaquePointer) throws -> QueryResult {
        guard let result else {
            if PQstatus(connection) != CONNECTION_OK { throw PostgresError.connectionLost }
            throw PostgresError.protocolViolation(errorMessage(connection))
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return copyRows(result)
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
            throw serverError(result, on: connection)
        case let status:
            throw PostgresError.protocolViolation("result status \(String(cString: PQresStatus(status)))")
        }
    }

    static func serverError(_ result: OpaquePointer, on connection: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        let state = field("C").map(SQLState.init(rawValue:))
        // A broken connection reports itself through an error result and a bad status.
        if PQstatus(connection) != CONNECTION_OK { return .connectionLost }
        guard let state else {
            return .protocolViolation(field("M") ?? errorMessage(connection))
        }
        return .server(ServerError(
            sqlState: state, message: field("M") ?? "error without a message",
            detail: field("D"), hint: field("H"), constraint: field("n"), table: field("t"), column: field("c")))
    }

    static func copyRows(_ result: OpaquePointer) -> QueryResult {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var columns: [String] = []
        var types: [PostgresType] = []
        columns.reserveCapacity(columnCount)
        for column in 0..<columnCount {
            columns.append(String(cString: PQfname(result, Int32(column))))
            types.append(PostgresType(rawValue: PQftype(result, Int32(column))))
        }
        var values: [String?] = []
        values.reserveCapacity(rowCount * columnCount)
        for row in 0..<Int32(rowCount) {
            for column in 0..<Int32(columnCount) {
                if PQgetisnull(result, row, column) == 1 {
                    values.append(nil)
                } else {
                    let length = Int(PQgetlength(result, row, column))
                    let bytes = UnsafeRawPointer(PQgetvalue(result, row, column)!).assumingMemoryBound(to: UInt8.self)
                    values.append(String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self))
                }
            }
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return QueryResult(columns: columns, columnTypes: types, values: values, affectedRows: affected)
    }

    static func withBindings<R>(
        _ bindings: [Query.Binding],
        _ body: (UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<Oid>?) -> R
    ) -> R {
        let types = bindings.map { Oid($0.type.rawValue) }
        let copies: [UnsafeMutablePointer<CChar>?] = bindings.map { $0.text.map { strdup($0) } }
        defer { copies.forEach { free($0) } }
        return copies.map { UnsafePointer($0) }.withUnsafeBufferPointer { values in
            types.withUnsafeBufferPointer { types in
                body(values.baseAddress, types.baseAddress)
            }
        }
    }

    // MARK: Notifications (see Notifications.swift)

    var socketAndWakeDescriptors: (socket: Int32, wake: Int32) {
        (PQsocket(handle), wakeRead)
    }
}

/// C strings for libpq's parallel keyword/value arrays, NULL-terminated.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

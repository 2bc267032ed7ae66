/// An error from the `Postgres` module.
///
/// Its `description` never contains a statement's parameter values nor the server's DETAIL
/// (which quotes row values, such as "Key (reference)=(MIG-2026-000123)"): parameters may be
/// personal data, and errors end up in logs. The full server text is available on purpose
/// only, through `ServerError.unredactedDetail`.
public enum PostgresError: Error, Sendable, CustomStringConvertible {
    /// Could not connect (server down, wrong socket, authentication refused).
    case connectionFailed(reason: String)
    /// The connection broke while in use (server restart, `pg_terminate_backend`, network).
    /// The connection is unusable; open a new one.
    case connectionLost
    /// The server refused a statement.
    case server(ServerError)
    /// A column's value could not be decoded as the requested Swift type.
    case decoding(column: String, expected: String, reason: DecodingFailure)
    /// The server answered something the call did not expect (a bug in the caller or here).
    case protocolViolation(String)

    public enum DecodingFailure: String, Sendable {
        case unexpectedNull = "is NULL"
        case typeMismatch = "does not hold a value of that type"
        case noSuchColumn = "is not in the result"
    }

    /// The SQLSTATE, for server errors and for broken connections (`08006`).
    public var sqlState: SQLState? {
        switch self {
        case .server(let error): error.sqlState
        case .connectionLost: .connectionFailure
        case .connectionFailed: .sqlClientUnableToEstablishConnection
        case .decoding, .protocolViolation: nil
        }
    }

    /// True when the connection can no longer be used and a new one is needed.
    public var isConnectionProblem: Bool {
        switch self {
        case .connectionLost, .connectionFailed: true
        case .server(let error): error.sqlState.errorClass == "08" || error.sqlState == .adminShutdown
            || error.sqlState == .crashShutdown || error.sqlState == .cannotConnectNow
        default: false
        }
    }

    /// True when the server refused a new connection for a reason that retrying cannot fix: a
    /// database, role or password that is wrong, pg_hba.conf or the database's CONNECT
    /// privilege refusing the login, or a connection string libpq cannot parse. libpq gives
    /// these only as text (the server's FATAL message): English messages are recognised, and
    /// anything else counts as transient, so a server in another language is retried as before.
    public var isConfigurationProblem: Bool {
        guard case .connectionFailed(let reason) = self else { return false }
        let text = reason.lowercased()
        let markers = [
            "does not exist",                   // database "x" / role "x" does not exist
            "password authentication failed", "authentication failed for user",
            "no pg_hba.conf entry", "permission denied for database", "is not permitted to log in",
            "fe_sendauth: no password supplied",
            // libpq could not read the connection string: retrying cannot help.
            "invalid connection option", "missing \"=\" after", "invalid uri", "value: ",
            "invalid integer value", "invalid port number", "could not match", "unterminated quoted string",
            "invalid percent-encoded token", "unexpected spaces found", "extra key/value separator",
        ]
        return markers.contains { text.contains($0) }
    }

    /// True when a new connection failed for a reason that passes by itself: no server
    /// listening (yet), one starting up, shutting down or in recovery, a timeout, too many
    /// clients. libpq says so only in text; an unknown reason is not counted transient, so that
    /// a command a person waits on does not repeat a login that may lock an account.
    public var isTransientConnectionFailure: Bool {
        guard case .connectionFailed(let reason) = self, !isConfigurationProblem else { return false }
        let text = reason.lowercased()
        let markers = [
            "connection refused", "no such file or directory", "timeout expired", "is starting up",
            "is shutting down", "in recovery", "not yet accepting connections", "too many clients",
            "server closed the connection unexpectedly",
        ]
        return markers.contains { text.contains($0) }
    }

    public var description: String {
        switch self {
        case .connectionFailed(let reason): "could not connect to PostgreSQL: \(reason)"
        case .connectionLost: "the connection to PostgreSQL was lost"
        case .server(let error): error.description
        case .decoding(let column, let expected, let reason):
            "column \"\(column)\" \(reason.rawValue) (expected \(expected))"
        case .protocolViolation(let what): "unexpected answer from PostgreSQL: \(what)"
        }
    }
}

/// A statement the server refused, with the fields of its error report that are safe to log.
public struct ServerError: Sendable, CustomStringConvertible {
    public let sqlState: SQLState
    /// The primary message, with quoted input values removed for data exceptions (class 22),
    /// whose messages repeat the offending value.
    public let message: String
    public let constraint: String?
    public let table: String?
    public let column: String?
    public let hint: String?
    /// DETAIL as the server sent it. It can contain row values: never log it.
    public let unredactedDetail: String?

    init(sqlState: SQLState, message: String, detail: String?, hint: String?,
         constraint: String?, table: String?, column: String?) {
        self.sqlState = sqlState
        self.message = sqlState.errorClass == "22" ? Self.redactQuotedValues(message) : message
        self.unredactedDetail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.column = column
    }

    public var description: String {
        var text = message
        var names: [String] = []
        if let table { names.append("table \(table)") }
        if let column { names.append("column \(column)") }
        if let constraint, !message.contains(constraint) { names.append("constraint \(constraint)") }
        if !names.isEmpty { text += " (" + names.joined(separator: ", ") + ")" }
        text += " [SQLSTATE \(sqlState)]"
        return text
    }

    /// `invalid input syntax for type integer: "abc"` → `invalid input syntax for type integer: "…"`.
    static func redactQuotedValues(_ message: String) -> String {
        var result = ""
        var inQuote = false
        for character in message {
            if character == "\"" {
                if inQuote { result += "…\"" } else { result.append(character) }
                inQuote.toggle()
            } else if !inQuote {
                result.append(character)
            }
        }
        if inQuote { result += "…\"" }
        return result
    }
}

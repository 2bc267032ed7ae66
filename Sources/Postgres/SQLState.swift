/// A PostgreSQL SQLSTATE code (five characters), with names for the ones Reception reacts to.
///
/// An open struct rather than an enum: the server has hundreds of codes, and an unknown one
/// must still round-trip.
public struct SQLState: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    /// The two-character class (`23` integrity constraint violation, `40` transaction rollback, ...).
    public var errorClass: Substring { rawValue.prefix(2) }

    public var description: String {
        if let name = Self.names[self] { return "\(name) (\(rawValue))" }
        return rawValue
    }

    /// The name of a known code, such as `uniqueViolation`.
    public var name: String? { Self.names[self] }

    // Class 08 — connection exception
    public static let connectionException = SQLState(rawValue: "08000")
    public static let connectionDoesNotExist = SQLState(rawValue: "08003")
    public static let connectionFailure = SQLState(rawValue: "08006")
    public static let sqlClientUnableToEstablishConnection = SQLState(rawValue: "08001")
    // Class 22 — data exception
    public static let dataException = SQLState(rawValue: "22000")
    public static let numericValueOutOfRange = SQLState(rawValue: "22003")
    public static let invalidDatetimeFormat = SQLState(rawValue: "22007")
    public static let invalidTextRepresentation = SQLState(rawValue: "22P02")
    public static let invalidParameterValue = SQLState(rawValue: "22023")
    // Class 23 — integrity constraint violation
    public static let integrityConstraintViolation = SQLState(rawValue: "23000")
    public static let notNullViolation = SQLState(rawValue: "23502")
    public static let foreignKeyViolation = SQLState(rawValue: "23503")
    public static let uniqueViolation = SQLState(rawValue: "23505")
    public static let checkViolation = SQLState(rawValue: "23514")
    public static let exclusionViolation = SQLState(rawValue: "23P01")
    // Class 25 — invalid transaction state
    public static let readOnlySQLTransaction = SQLState(rawValue: "25006")
    public static let inFailedSQLTransaction = SQLState(rawValue: "25P02")
    // Class 28 — invalid authorization
    public static let invalidPassword = SQLState(rawValue: "28P01")
    public static let invalidAuthorizationSpecification = SQLState(rawValue: "28000")
    // Class 3D — invalid catalog name
    public static let invalidCatalogName = SQLState(rawValue: "3D000")
    // Class 40 — transaction rollback
    public static let serializationFailure = SQLState(rawValue: "40001")
    public static let deadlockDetected = SQLState(rawValue: "40P01")
    // Class 42 — syntax error or access rule violation
    public static let insufficientPrivilege = SQLState(rawValue: "42501")
    public static let syntaxError = SQLState(rawValue: "42601")
    public static let undefinedColumn = SQLState(rawValue: "42703")
    public static let undefinedFunction = SQLState(rawValue: "42883")
    public static let undefinedTable = SQLState(rawValue: "42P01")
    public static let duplicateObject = SQLState(rawValue: "42710")
    public static let duplicateDatabase = SQLState(rawValue: "42P04")
    // Class 53 — insufficient resources
    public static let tooManyConnections = SQLState(rawValue: "53300")
    // Class 55 — object not in prerequisite state
    public static let lockNotAvailable = SQLState(rawValue: "55P03")
    // Class 57 — operator intervention
    public static let queryCanceled = SQLState(rawValue: "57014")
    public static let adminShutdown = SQLState(rawValue: "57P01")
    public static let crashShutdown = SQLState(rawValue: "57P02")
    public static let cannotConnectNow = SQLState(rawValue: "57P03")
    // Class P0 — PL/pgSQL
    public static let raiseException = SQLState(rawValue: "P0001")

    /// Codes after which the same transaction, run again, may well succeed.
    public var isRetryableTransactionFailure: Bool {
        self == .serializationFailure || self == .deadlockDetected
    }

    private static let names: [SQLState: String] = [
        .connectionException: "connectionException",
        .connectionDoesNotExist: "connectionDoesNotExist",
        .connectionFailure: "connectionFailure",
        .sqlClientUnableToEstablishConnection: "sqlClientUnableToEstablishConnection",
        .dataException: "dataException",
        .numericValueOutOfRange: "numericValueOutOfRange",
        .invalidDatetimeFormat: "invalidDatetimeFormat",
        .invalidTextRepresentation: "invalidTextRepresentation",
        .invalidParameterValue: "invalidParameterValue",
        .integrityConstraintViolation: "integrityConstraintViolation",
        .notNullViolation: "notNullViolation",
        .foreignKeyViolation: "foreignKeyViolation",
        .uniqueViolation: "uniqueViolation",
        .checkViolation: "checkViolation",
        .exclusionViolation: "exclusionViolation",
        .readOnlySQLTransaction: "readOnlySQLTransaction",
        .inFailedSQLTransaction: "inFailedSQLTransaction",
        .invalidPassword: "invalidPassword",
        .invalidAuthorizationSpecification: "invalidAuthorizationSpecification",
        .invalidCatalogName: "invalidCatalogName",
        .serializationFailure: "serializationFailure",
        .deadlockDetected: "deadlockDetected",
        .insufficientPrivilege: "insufficientPrivilege",
        .syntaxError: "syntaxError",
        .undefinedColumn: "undefinedColumn",
        .undefinedFunction: "undefinedFunction",
        .undefinedTable: "undefinedTable",
        .duplicateObject: "duplicateObject",
        .duplicateDatabase: "duplicateDatabase",
        .tooManyConnections: "tooManyConnections",
        .lockNotAvailable: "lockNotAvailable",
        .queryCanceled: "queryCanceled",
        .adminShutdown: "adminShutdown",
        .crashShutdown: "crashShutdown",
        .cannotConnectNow: "cannotConnectNow",
        .raiseException: "raiseException",
    ]
}

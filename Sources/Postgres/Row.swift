/// The rows a statement returned, copied out of libpq's result (whose memory dies with it).
public struct QueryResult: Sendable, RandomAccessCollection {
    public let columns: [String]
    public let columnTypes: [PostgresType]
    /// Rows affected, for INSERT/UPDATE/DELETE/COPY (libpq's `PQcmdTuples`).
    public let affectedRows: Int
    let values: [String?]

    init(columns: [String], columnTypes: [PostgresType], values: [String?], affectedRows: Int) {
        self.columns = columns
        self.columnTypes = columnTypes
        self.values = values
        self.affectedRows = affectedRows
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { columns.isEmpty ? 0 : values.count / columns.count }
    public subscript(position: Int) -> Row { Row(result: self, index: position) }
}

/// One row of a `QueryResult`. Columns are read by name or position, with a Swift type:
/// `try row.decode("reference", as: String.self)`. NULL reads as nil only into an Optional;
/// anything else that does not fit is an error naming the column, never a crash.
public struct Row: Sendable {
    let result: QueryResult
    let index: Int

    public var columnCount: Int { result.columns.count }

    public func decode<Value: PostgresDecodable>(_ column: String, as type: Value.Type = Value.self) throws -> Value {
        guard let position = result.columns.firstIndex(of: column) else {
            throw PostgresError.decoding(column: column, expected: "\(Value.self)", reason: .noSuchColumn)
        }
        return try decode(position, as: type)
    }

    public func decode<Value: PostgresDecodable>(_ position: Int, as type: Value.Type = Value.self) throws -> Value {
        guard position >= 0, position < result.columns.count else {
            throw PostgresError.decoding(column: "#\(position)", expected: "\(Value.self)", reason: .noSuchColumn)
        }
        let column = result.columns[position]
        guard let text = result.values[index * result.columns.count + position] else {
            if let nullable = Value.self as? any PostgresNullable.Type, let null = nullable.postgresNull as? Value {
                return null
            }
            throw PostgresError.decoding(column: column, expected: "\(Value.self)", reason: .unexpectedNull)
        }
        guard let value = Value.decode(postgresText: text) else {
            throw PostgresError.decoding(column: column, expected: "\(Value.self)", reason: .typeMismatch)
        }
        return value
    }

    /// The raw text of a column, nil for NULL.
    public func text(_ position: Int) -> String? {
        result.values[index * result.columns.count + position]
    }
}

/// A SQL statement with its parameters.
///
/// Written as a string literal, each interpolated value becomes a numbered parameter:
/// `"SELECT id FROM cases WHERE reference = \(reference)"` sends `... = $1` with the
/// reference bound separately. There is deliberately no way to splice a value into the SQL
/// text, so an injection cannot happen by accident.
public struct Query: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public struct Binding: Sendable {
        public let text: String?
        public let type: PostgresType
    }

    public private(set) var sql: String
    public private(set) var bindings: [Binding]

    public init(stringLiteral value: String) {
        sql = value
        bindings = []
    }

    public init(stringInterpolation: StringInterpolation) {
        sql = stringInterpolation.sql
        bindings = stringInterpolation.bindings
    }

    /// Only the SQL, with `$n` placeholders: never the values.
    public var description: String { sql }

    public struct StringInterpolation: StringInterpolationProtocol, Sendable {
        var sql = ""
        var bindings: [Binding] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
            bindings.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value) {
            bindings.append(Binding(text: value.postgresText, type: Value.postgresType))
            sql += "$\(bindings.count)"
        }

        /// Splices another statement's SQL text, such as a shared column list. The fragment is a
        /// `Query` (built from literals), never a `String`, so no value can enter this way.
        public mutating func appendInterpolation(fragment: Query) {
            precondition(fragment.bindings.isEmpty, "a SQL fragment cannot carry parameters")
            sql += fragment.sql
        }

        /// nil binds SQL NULL, typed as the wrapped type.
        public mutating func appendInterpolation<Value: PostgresEncodable>(_ value: Value?) {
            bindings.append(Binding(text: value?.postgresText, type: Value.postgresType))
            sql += "$\(bindings.count)"
        }
    }
}

import Foundation

/// A Swift value that can be read from a column in PostgreSQL's text output format.
public protocol PostgresDecodable: Sendable {
    /// The value for this text, or nil when the text is not a value of this type.
    static func decode(postgresText text: String) -> Self?
}

/// Lets `Optional` read SQL NULL as nil while every other type refuses it.
public protocol PostgresNullable {
    static var postgresNull: Self { get }
}

extension Optional: PostgresNullable {
    public static var postgresNull: Optional<Wrapped> { .none }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(postgresText text: String) -> Optional<Wrapped>? {
        Wrapped.decode(postgresText: text).map { .some($0) }
    }
}

extension String {
    public static func decode(postgresText text: String) -> String? { text }
}

extension Int {
    public static func decode(postgresText text: String) -> Int? { Int(text) }
}

extension Int64 {
    public static func decode(postgresText text: String) -> Int64? { Int64(text) }
}

extension Int32 {
    public static func decode(postgresText text: String) -> Int32? { Int32(text) }
}

extension Bool {
    public static func decode(postgresText text: String) -> Bool? {
        switch text {
        case "t": true
        case "f": false
        default: nil
        }
    }
}

extension Double {
    public static func decode(postgresText text: String) -> Double? {
        switch text {
        case "NaN": .nan
        case "Infinity": .infinity
        case "-Infinity": -.infinity
        default: Double(text)
        }
    }
}

extension UUID {
    public static func decode(postgresText text: String) -> UUID? { UUID(uuidString: text) }
}

extension Date: PostgresDecodable {
    /// Reads `timestamptz` (as sent with `TimeZone = UTC`, `DateStyle = ISO`) and `date`
    /// (as midnight UTC).
    public static func decode(postgresText text: String) -> Date? {
        PostgresDateText.parse(text)
    }
}

extension Array: PostgresDecodable where Element: PostgresArrayElement {
    public static func decode(postgresText text: String) -> [Element]? {
        guard let items = ArrayLiteral.parse(text) else { return nil }
        var result: [Element] = []
        result.reserveCapacity(items.count)
        for item in items {
            // A NULL element cannot become a non-optional Swift element.
            guard let item, let value = Element.decode(postgresText: item) else { return nil }
            result.append(value)
        }
        return result
    }
}

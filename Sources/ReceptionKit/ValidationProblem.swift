/// One thing wrong with input an officer gave: where, which field, and why.
///
/// The reason may quote the offending value of that one field (that is how the officer finds
/// and fixes it in their own file), never any other value of the row. So a problem is for the
/// officer's terminal or their script's output, and must not be logged.
public struct ValidationProblem: Sendable, Equatable, Encodable, CustomStringConvertible {
    public enum Location: Sendable, Equatable {
        /// The command line (`case add`).
        case arguments
        /// A physical line of a CSV file, counting from 1 (the header is line 1).
        case line(Int)
        /// The element of a JSON array at this index, counting from 0.
        case element(Int)
        /// The file as a whole (not CSV/JSON at all, a missing column).
        case file
    }

    public let location: Location
    /// The column or key (`ages`, `needs`); for JSON a path within the element (`members[2].age`).
    public let field: String
    public let reason: String

    public init(_ location: Location, field: String, reason: String) {
        self.location = location
        self.field = field
        self.reason = reason
    }

    /// `line 17, field ages: -3 is not an age (0–120)`, `[17].members[2].age: ...`.
    public var description: String {
        switch location {
        case .arguments: field.isEmpty ? reason : "\(field): \(reason)"
        case .line(let line): field.isEmpty ? "line \(line): \(reason)" : "line \(line), field \(field): \(reason)"
        case .element(let index): field.isEmpty ? "[\(index)]: \(reason)" : "[\(index)].\(field): \(reason)"
        case .file: field.isEmpty ? reason : "field \(field): \(reason)"
        }
    }

    private enum CodingKeys: String, CodingKey { case line, path, field, reason }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch location {
        case .line(let line): try container.encode(line, forKey: .line)
        case .element(let index): try container.encode(field.isEmpty ? "[\(index)]" : "[\(index)].\(field)", forKey: .path)
        case .arguments, .file: break
        }
        try container.encode(field, forKey: .field)
        try container.encode(reason, forKey: .reason)
    }
}

extension ValidationProblem {
    /// `must be between 0 and 120`: the reason for a number far outside a field's range (beyond
    /// any Int, or infinite), naming the range alone: the number says nothing an officer needs,
    /// and may be someone's age.
    static func mustBeBetween(_ range: ClosedRange<Int>) -> String {
        "must be between \(range.lowerBound) and \(range.upperBound)"
    }
}

/// Input with problems, all of them, not the first only. Nothing was written.
public struct InvalidInput: Error, Sendable, CustomStringConvertible {
    public let problems: [ValidationProblem]

    public init(_ problems: [ValidationProblem]) {
        self.problems = problems
    }

    public var description: String {
        problems.count == 1 ? problems[0].description : "\(problems.count) problems; nothing was written"
    }
}

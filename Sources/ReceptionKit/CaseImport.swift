import Foundation
import Postgres

/// Reading a file of arrivals: CSV or JSON in, validated cases and every problem out.
///
/// The whole file is read and checked before anything is written, so that an officer sees
/// all that is wrong with it at once, and a file with any problem writes nothing.
public enum CaseImport {
    public enum Format: String, Sendable, CaseIterable {
        case csv, json

        /// From the file name's extension (`.csv`, `.json`), nil for anything else.
        public init?(path: String) {
            switch URL(fileURLWithPath: path).pathExtension.lowercased() {
            case "csv": self = .csv
            case "json": self = .json
            default: return nil
            }
        }
    }

    /// One case of the file, with where it is, for reports.
    public struct Entry: Sendable {
        public let location: ValidationProblem.Location
        public let newCase: NewCase

        public init(location: ValidationProblem.Location, newCase: NewCase) {
            self.location = location
            self.newCase = newCase
        }
    }

    public struct Contents: Sendable {
        /// The valid cases, in file order.
        public var entries: [Entry] = []
        /// Everything wrong, in file order; the file may be written only when this is empty.
        public var problems: [ValidationProblem] = []
        /// Rows (CSV) or elements (JSON) read, valid or not.
        public var count = 0
        /// Every well-formed reference with its place, also of rows with other problems, so
        /// that a reference given twice is reported even when one of its rows is wrong.
        var references: [(reference: String, location: ValidationProblem.Location)] = []
    }

    /// Reads and validates a whole file. Never throws for bad content: that is `problems`.
    public static func read(_ data: [UInt8], format: Format, rules: CaseRules) -> Contents {
        var contents = switch format {
        case .csv: readCSV(data, rules: rules)
        case .json: CaseImportJSON.read(data, rules: rules)
        }
        // A file of no cases is most likely the wrong file, or one cut short: an import that
        // registers nothing and succeeds would hide that.
        if contents.count == 0 && contents.problems.isEmpty {
            let shape = format == .csv ? "a header row and no rows" : "an empty array"
            contents.problems.append(ValidationProblem(.file, field: "", reason: "no cases in the file (\(shape))"))
        }
        contents.problems = sorted(contents.problems + duplicateReferences(contents.references))
        return contents
    }

    /// The CSV columns; the header names them, in any order.
    public static let csvColumns = CaseTextFields.Field.allCases.map(\.rawValue)

    static func readCSV(_ data: [UInt8], rules: CaseRules) -> Contents {
        var contents = Contents()
        let document = CSVReader.read(data)
        for problem in document.problems {
            contents.problems.append(ValidationProblem(.line(problem.line), field: "", reason: problem.reason))
        }
        guard let header = document.records.first else {
            if contents.problems.isEmpty {
                contents.problems.append(ValidationProblem(.file, field: "", reason: "the file is empty; it needs a header row: \(csvColumns.joined(separator: ","))"))
            }
            return contents
        }
        // The header itself is broken: its problem is reported, the rows cannot be read.
        if document.problems.contains(where: { $0.line < header.line }) { return contents }

        // The header: known columns, each once, ref and ages present.
        var columns: [CaseTextFields.Field?] = []
        var seen: Set<CaseTextFields.Field> = []
        for name in header.fields {
            let cleaned = name.trimmingCharacters(in: .whitespaces).lowercased()
            let field = CaseTextFields.Field(rawValue: cleaned == "reference" ? "ref" : cleaned)
            if field == nil {
                contents.problems.append(ValidationProblem(.line(header.line), field: CaseFieldRules.quoted(name),
                    reason: "unknown column (the columns are \(csvColumns.joined(separator: ",")))"))
            } else if let field, !seen.insert(field).inserted {
                contents.problems.append(ValidationProblem(.line(header.line), field: field.rawValue, reason: "the column appears twice"))
            }
            columns.append(field)
        }
        for required in [CaseTextFields.Field.ref, .ages] where !seen.contains(required) {
            contents.problems.append(ValidationProblem(.line(header.line), field: required.rawValue, reason: "the header has no \(required.rawValue) column, which is required"))
        }
        guard contents.problems.allSatisfy({ $0.location != .line(header.line) }) else { return contents }

        contents.entries.reserveCapacity(document.records.count - 1)
        for record in document.records.dropFirst() {
            contents.count += 1
            guard record.fields.count == columns.count else {
                contents.problems.append(ValidationProblem(.line(record.line), field: "",
                    reason: "\(record.fields.count) fields, but the header has \(columns.count)"))
                continue
            }
            var fields = CaseTextFields()
            for (position, field) in columns.enumerated() {
                if let field { fields[field] = record.fields[position] }
            }
            if let valid = fields.validate(at: .line(record.line), rules: rules, problems: &contents.problems) {
                contents.entries.append(Entry(location: .line(record.line), newCase: valid))
                contents.references.append((valid.reference, .line(record.line)))
            } else if let reference = fields.reference?.trimmingCharacters(in: .whitespaces),
                      CaseFieldRules.reference(reference) == nil {
                contents.references.append((reference, .line(record.line)))
            }
        }
        contents.count += document.problems.count
        return contents
    }

    /// In file order, and stable: the problems of one row stay in field order.
    public static func sorted(_ problems: [ValidationProblem]) -> [ValidationProblem] {
        problems.enumerated()
            .sorted { (order($0.element.location), $0.offset) < (order($1.element.location), $1.offset) }
            .map(\.element)
    }

    /// A reference may appear once in a file.
    static func duplicateReferences(_ references: [(reference: String, location: ValidationProblem.Location)]) -> [ValidationProblem] {
        var first: [String: ValidationProblem.Location] = [:]
        var problems: [ValidationProblem] = []
        first.reserveCapacity(references.count)
        for (reference, location) in references {
            let key = CaseReference.key(reference)
            if let earlier = first[key] {
                problems.append(ValidationProblem(location, field: referenceField(location),
                    reason: "\(reference) appears twice in the file (references ignore case), also \(describe(earlier))"))
            } else {
                first[key] = location
            }
        }
        return problems
    }

    static func referenceField(_ location: ValidationProblem.Location) -> String {
        if case .element = location { return "id" }
        return "ref"
    }

    static func describe(_ location: ValidationProblem.Location) -> String {
        switch location {
        case .line(let line): "on line \(line)"
        case .element(let index): "at [\(index)]"
        case .arguments: "on the command line"
        case .file: "in the file"
        }
    }

    private static func order(_ location: ValidationProblem.Location) -> Int {
        switch location {
        case .file, .arguments: -1
        case .line(let line): line
        case .element(let index): index
        }
    }
}

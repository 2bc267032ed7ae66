import Foundation

/// One cell of a CSV file we write for a spreadsheet (RFC 4180: comma-separated, quoted
/// when needed, quotes doubled).
///
/// Text is neutralized against formula injection, as OWASP advises: a text cell that starts
/// with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`, so that Excel,
/// LibreOffice and Google Sheets show it as text instead of evaluating it
/// (`=HYPERLINK(...)` becomes `'=HYPERLINK(...)`). Every text cell is treated so, whatever
/// it holds: a municipality name is typed by an officer, a dimension name by whoever
/// registered the need.
///
/// Numbers the program computes itself (counts, quotas, rates) are exempt: no person's text
/// can reach them, and a spreadsheet must read them as numbers, which a `'-3` no longer is.
/// That is why numbers are their own cases here rather than strings that look numeric.
public enum CSVCell: Sendable, Equatable {
    /// Text, neutralized and quoted as needed.
    case text(String)
    /// A whole number the program computed, written as is (a minus sign included).
    case integer(Int)
    /// A fractional number the program computed, with this many digits after the point.
    case decimal(Double, fractionDigits: Int)
    /// No value.
    case empty

    /// The cell as it appears between the commas.
    public var field: String {
        switch self {
        case .text(let text): Self.quoted(Self.neutralized(text))
        case .integer(let number): String(number)
        case .decimal(let number, let fractionDigits): String(format: "%.\(fractionDigits)f", number)
        case .empty: ""
        }
    }

    /// One record: the cells' fields joined by commas, without a line break.
    public static func record(_ cells: [CSVCell]) -> String {
        cells.map(\.field).joined(separator: ",")
    }

    /// `'` before a first character that a spreadsheet would take as the start of a formula.
    static func neutralized(_ text: String) -> String {
        guard let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) else { return text }
        return "'" + text
    }

    /// Quoted when it holds a comma, a quote or a line break (RFC 4180), and also a semicolon
    /// or a tab: a Swedish Excel splits on `;`, and a cell that starts after one would escape
    /// the neutralizing `'`.
    static func quoted(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { ",\"\n\r;\t".unicodeScalars.contains($0) }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

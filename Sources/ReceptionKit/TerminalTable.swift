import Foundation

/// A plain-text table for people: left-aligned columns (right-aligned for numbers), a header,
/// a rule.
///
/// Cells often hold stored text (reasons, names, actors), so every header and cell is shown
/// through `TerminalText.escaped`: no control character or bidi override reaches the
/// terminal, a line break cannot split a row, and the column widths are those of the text
/// as shown.
public struct TerminalTable: Sendable {
    public var headers: [String]
    public var rows: [[String]]
    /// Columns whose values are right-aligned (numbers).
    public var numericColumns: Set<Int>

    public init(headers: [String], rows: [[String]], numericColumns: Set<Int> = []) {
        self.headers = headers
        self.rows = rows
        self.numericColumns = numericColumns
    }

    public func render() -> String {
        let headers = self.headers.map { TerminalText.escaped($0) }
        let rows = self.rows.map { $0.map { TerminalText.escaped($0) } }
        var widths = headers.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                let width = index < widths.count ? widths[index] : cell.count
                let padding = String(repeating: " ", count: max(0, width - cell.count))
                return numericColumns.contains(index) ? padding + cell : cell + padding
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        var lines = [line(headers), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")]
        lines += rows.map(line)
        return lines.joined(separator: "\n")
    }
}

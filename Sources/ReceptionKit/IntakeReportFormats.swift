import Foundation

/// The intake report as text for a terminal, CSV for a spreadsheet, and one self-contained
/// HTML page with a chart for a council meeting.
extension IntakeReport {
    /// Each transfer with both sides, oldest first: "Umeå (2480) gave Vännäs (2460) 5 persons on 2027-03-03".
    var transferSentences: [String] {
        let names = Dictionary(municipalities.map { ($0.code, $0.name) }, uniquingKeysWith: { first, _ in first })
        func side(_ code: String) -> String { names[code].map { "\($0) (\(code))" } ?? code }
        return transfers.map { "\(side($0.from)) gave \(side($0.to)) \($0.units) \($0.dimension.replacingOccurrences(of: "_", with: " ")) on \($0.agreedOn)" }
    }

    /// Anvisningar of the period that ended without reception, by cause, in one sentence.
    var endingsSentence: String {
        guard endings.total > 0 else { return "Anvisningar ended without reception: none." }
        let parts = WithdrawalCause.allCases.filter { endings.count($0) > 0 }.map { "\(endings.count($0)) \($0.description)" }
        return "Anvisningar ended without reception: \(endings.total) (" + parts.joined(separator: ", ") + ")."
    }

    static func percent(_ rate: Double?) -> String {
        guard let rate else { return "–" }
        return "\(Int((rate * 100).rounded()))%"
    }

    /// A bar of `width` cells: placed (█) and proposed (▒) against the quota (░). Past the
    /// quota the bar is capped and marked with `+`.
    static func bar(placed: Int, proposed: Int, quota: Int, width: Int = 20) -> String {
        guard quota > 0 else { return placed + proposed > 0 ? String(repeating: "█", count: width) + "+" : "" }
        let full = min(width, Int((Double(placed) / Double(quota) * Double(width)).rounded()))
        let pending = min(width - full, Int((Double(proposed) / Double(quota) * Double(width)).rounded()))
        let over = placed + proposed > quota ? "+" : ""
        return String(repeating: "█", count: full) + String(repeating: "▒", count: pending)
            + String(repeating: "░", count: width - full - pending) + over
    }

    /// "(inactive)" or "(joins 2027-01-01)" after a municipality's name.
    static func note(_ m: Municipality) -> String {
        if !m.active { return " (inactive)" }
        if let joinsOn = m.joinsOn { return " (joins \(joinsOn))" }
        return ""
    }

    /// Names and codes as shown on a terminal: officers type them, so control characters and
    /// bidi overrides appear escaped, and the column widths count the escaped text.
    static func label(_ m: Municipality) -> String { TerminalText.escaped(m.name + note(m)) }

    public func renderTable() -> String {
        var lines: [String] = ["Intake \(period) — placed against quota (█ placed, ▒ proposed, ░ free)", ""]
        let name = max(12, (municipalities.map { IntakeReport.label($0).count }.max() ?? 0))
        func pad(_ text: String, _ width: Int, right: Bool = true) -> String {
            let padding = String(repeating: " ", count: max(0, width - text.count))
            return right ? padding + text : text + padding
        }
        func row(_ m: Municipality, bar: Bool) -> String {
            [pad(TerminalText.escaped(m.code), 4, right: false), pad(IntakeReport.label(m), name, right: false),
             pad(String(m.personsQuota), 6), pad(String(m.placedPersons), 7), pad(String(m.placedHouseholds), 10),
             pad(String(m.proposedPersons), 8), pad(String(m.placedChildren), 8), pad(String(m.placedWithSpecialNeeds), 6),
             pad(String(m.forcedPlacements), 6), pad(String(m.receivedOnTime), 7), pad(String(m.receivedLate), 4),
             pad(IntakeReport.percent(m.fillRate), 5),
             bar ? IntakeReport.bar(placed: m.placedPersons, proposed: m.proposedPersons, quota: m.personsQuota) : ""]
                .joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        let header = [pad("CODE", 4, right: false), pad("MUNICIPALITY", name, right: false), pad("QUOTA", 6),
                      pad("PLACED", 7), pad("HOUSEHOLDS", 10), pad("PROPOSED", 8), pad("CHILDREN", 8), pad("NEEDS", 6),
                      pad("FORCED", 6), pad("ON TIME", 7), pad("LATE", 4), pad("FILL", 5)].joined(separator: "  ")
        lines.append(header)
        lines.append(String(repeating: "-", count: header.count + 22))
        lines += municipalities.map { row($0, bar: true) }
        lines.append(String(repeating: "-", count: header.count + 22))
        lines.append(row(total, bar: false))
        lines.append("")
        lines.append("QUOTA: persons quota. PLACED/HOUSEHOLDS: confirmed placements. PROPOSED: persons in proposals awaiting a decision.")
        lines.append("CHILDREN: placed members under 18. NEEDS: placed households with a special need. FILL: placed / quota.")
        lines.append("ON TIME / LATE: placed households received by their latest reception date, and after it.")
        lines.append("Waiting past their latest reception date: \(deadlines.waitingPastDate) households; due within 14 days: \(deadlines.dueWithin14Days)"
                     + (deadlines.withoutDate > 0 ? "; waiting with no anvisning recorded: \(deadlines.withoutDate)." : "."))
        lines.append(endingsSentence)
        if !transfers.isEmpty {
            lines.append("")
            lines.append("Quota transfers by agreement")
            lines += transferSentences.map { "  " + TerminalText.escaped($0) }
        }
        let planned = municipalities.filter { $0.personsQuota > 0 && !$0.months.isEmpty }
        if !planned.isEmpty {
            lines.append("")
            lines.append("Plan and intake by month, persons, cumulative (received/released by the plan; without a plan the whole quota is released)")
            let names = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
            let cells = planned.map { m in m.months.map { "\($0.receivedPersons)/\($0.plannedPersons)" } }
            let width = max(7, cells.flatMap { $0 }.map(\.count).max() ?? 0)
            lines.append(([pad("CODE", 4, right: false)] + names.map { pad($0, width) }).joined(separator: " "))
            for (m, row) in zip(planned, cells) {
                lines.append(([pad(TerminalText.escaped(m.code), 4, right: false)] + row.map { pad($0, width) }).joined(separator: " "))
            }
        }
        let dimensionRows = municipalities.flatMap { m in
            m.dimensions.map { d in
                [TerminalText.escaped(m.code), TerminalText.escaped(d.dimension), String(d.quota), String(d.used),
                 String(d.forced), String(d.free)]
            }
        }
        if !dimensionRows.isEmpty {
            lines.append("")
            lines.append("Capacity per dimension (used includes proposals; forced is past the quota)")
            var widths = [4, 9, 5, 4, 6, 4]
            for cells in dimensionRows { for (i, cell) in cells.enumerated() { widths[i] = max(widths[i], cell.count) } }
            let titles = ["CODE", "DIMENSION", "QUOTA", "USED", "FORCED", "FREE"]
            func line(_ cells: [String]) -> String {
                cells.enumerated().map { i, cell in i < 2 ? pad(cell, widths[i], right: false) : pad(cell, widths[i]) }
                    .joined(separator: "  ")
            }
            lines.append(line(titles))
            lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
            lines += dimensionRows.map(line)
        }
        return lines.joined(separator: "\n")
    }

    /// One row per municipality; capacity as `<dimension>_quota`, `_used`, `_forced` columns.
    /// Text cells (headers, code, name) are neutralized against formula injection; the
    /// numbers are the report's own and written as numbers (see `CSVCell`).
    public func renderCSV() -> String {
        let dimensionNames = Array(Set(municipalities.flatMap { $0.dimensions.map(\.dimension) })).sorted()
        var header = ["period", "code", "name", "active", "persons_quota", "placed_persons", "placed_households",
                      "proposed_persons", "proposed_households", "placed_children", "placed_with_special_needs",
                      "forced_placements", "fill_rate", "received_on_time", "received_late"]
        for name in dimensionNames { header += ["\(name)_quota", "\(name)_used", "\(name)_forced"] }
        let monthColumns = (1...12).map { String(format: "%02d", $0) }
        header += monthColumns.map { "planned_persons_\($0)" } + monthColumns.map { "received_persons_\($0)" }
        var lines = [CSVCell.record(header.map(CSVCell.text))]
        for m in municipalities {
            var cells: [CSVCell] = [
                .integer(period), .text(m.code), .text(m.name), .text(m.active ? "true" : "false"),
                .integer(m.personsQuota), .integer(m.placedPersons), .integer(m.placedHouseholds),
                .integer(m.proposedPersons), .integer(m.proposedHouseholds), .integer(m.placedChildren),
                .integer(m.placedWithSpecialNeeds), .integer(m.forcedPlacements),
                m.fillRate.map { CSVCell.decimal($0, fractionDigits: 4) } ?? .empty,
                .integer(m.receivedOnTime), .integer(m.receivedLate),
            ]
            for name in dimensionNames {
                if let d = m.dimensions.first(where: { $0.dimension == name }) {
                    cells += [.integer(d.quota), .integer(d.used), .integer(d.forced)]
                } else {
                    cells += [.empty, .empty, .empty]
                }
            }
            let months = m.months.count == 12 ? m.months : (1...12).map { Month(month: $0, plannedPersons: 0, receivedPersons: 0, receivedHouseholds: 0) }
            cells += months.map { .integer($0.plannedPersons) } + months.map { .integer($0.receivedPersons) }
            lines.append(CSVCell.record(cells))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// Also escapes what `TerminalText` does: the page may be printed to a terminal (no
    /// --output), and a bidi override in a name would reorder the page a council reads.
    static func html(_ text: String) -> String {
        TerminalText.escaped(text).replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }

    /// One page, no external resources: inline CSS and an SVG chart.
    public func renderHTML(title: String = "Reception intake") -> String {
        let barHeight = 26, gap = 10, labelWidth = 190, chartWidth = 520
        let scale = max(1, municipalities.map { max($0.personsQuota, $0.placedPersons + $0.proposedPersons) }.max() ?? 1)
        var bars = ""
        for (index, m) in municipalities.enumerated() {
            let y = index * (barHeight + gap)
            func width(_ value: Int) -> Int { Int(Double(value) / Double(scale) * Double(chartWidth)) }
            let label = Self.html("\(m.name) (\(m.code))")
            bars += """
                <text x="\(labelWidth - 8)" y="\(y + 18)" text-anchor="end">\(label)</text>
                <rect x="\(labelWidth)" y="\(y)" width="\(width(m.personsQuota))" height="\(barHeight)" class="quota"><title>quota \(m.personsQuota)</title></rect>
                <rect x="\(labelWidth)" y="\(y + 4)" width="\(width(m.placedPersons))" height="\(barHeight - 8)" class="\(m.placedPersons > m.personsQuota ? "over" : "placed")"><title>placed \(m.placedPersons)</title></rect>
                <rect x="\(labelWidth + width(m.placedPersons))" y="\(y + 4)" width="\(width(m.proposedPersons))" height="\(barHeight - 8)" class="proposed"><title>proposed \(m.proposedPersons)</title></rect>
                <text x="\(labelWidth + chartWidth + 8)" y="\(y + 18)">\(m.placedPersons) / \(m.personsQuota) · \(Self.percent(m.fillRate))</text>

                """
        }
        let chartHeight = max(1, municipalities.count) * (barHeight + gap)
        var rows = ""
        for m in municipalities + [total] {
            let isTotal = m.code.isEmpty
            rows += "<tr\(isTotal ? " class=\"total\"" : "")><td>\(Self.html(m.code))</td><td>\(Self.html(m.name))\(Self.note(m).isEmpty ? "" : " <em>\(Self.html(Self.note(m)))</em>")</td>"
                + [m.personsQuota, m.placedPersons, m.placedHouseholds, m.proposedPersons, m.placedChildren,
                   m.placedWithSpecialNeeds, m.forcedPlacements, m.receivedOnTime, m.receivedLate].map { "<td class=\"n\">\($0)</td>" }.joined()
                + "<td class=\"n\">\(Self.percent(m.fillRate))</td></tr>\n"
        }
        // Plan against intake: one small chart per municipality, cumulative persons by month.
        var charts = ""
        for m in municipalities where m.personsQuota > 0 && m.months.count == 12 {
            let w = 300, h = 130, left = 34, bottom = 20, top = 8
            let top1 = max(1, m.months.map { max($0.plannedPersons, $0.receivedPersons) }.max() ?? 1)
            func x(_ month: Int) -> Int { left + (month - 1) * (w - left - 8) / 11 }
            func y(_ value: Int) -> Int { h - bottom - value * (h - bottom - top) / top1 }
            let plan = m.months.map { "\(x($0.month)),\(y($0.plannedPersons))" }.joined(separator: " ")
            let intake = m.months.map { "\(x($0.month)),\(y($0.receivedPersons))" }.joined(separator: " ")
            charts += """
                <figure class="month"><figcaption>\(Self.html(m.name)) (\(Self.html(m.code)))</figcaption>
                <svg role="img" aria-label="Plan and intake by month, \(Self.html(m.name))" width="\(w)" height="\(h)" viewBox="0 0 \(w) \(h)">
                <line x1="\(left)" y1="\(h - bottom)" x2="\(w - 8)" y2="\(h - bottom)" class="axis"/>
                <text x="\(left - 4)" y="\(y(top1) + 4)" text-anchor="end">\(top1)</text><text x="\(left - 4)" y="\(h - bottom + 4)" text-anchor="end">0</text>
                <text x="\(x(1))" y="\(h - 4)" text-anchor="middle">Jan</text><text x="\(x(6))" y="\(h - 4)" text-anchor="middle">Jun</text><text x="\(x(12) + 6)" y="\(h - 4)" text-anchor="end">Dec</text>
                <polyline points="\(plan)" class="plan"><title>released by the plan</title></polyline>
                <polyline points="\(intake)" class="intake"><title>received</title></polyline>
                </svg></figure>

                """
        }
        let formatter = ISO8601DateFormatter()
        let style = """
            rect.quota { fill: #e3e8ee; } rect.placed { fill: #2e6db4; } rect.proposed { fill: #9cc0e8; } rect.over { fill: #b03a2e; }
            table { border-collapse: collapse; margin-top: 1.5rem; }
            tr.total td { font-weight: 600; border-top: 2px solid #1d2733; }
            polyline.intake { fill: none; stroke: #2e6db4; stroke-width: 2.5; }
            """
        return HTMLPage.document(title: "\(title) \(period)", style: style, body: """
            <h1>\(Self.html(title)) \(period)</h1>
            <p class="meta">Persons placed against each municipality's quota. Generated \(formatter.string(from: generatedAt)).</p>
            <p class="legend"><span style="background:#2e6db4"></span>placed (confirmed)<span style="background:#9cc0e8"></span>proposed, awaiting decision<span style="background:#e3e8ee"></span>quota<span style="background:#b03a2e"></span>over quota (forced placements)</p>
            <svg role="img" aria-label="Intake per municipality" width="\(labelWidth + chartWidth + 160)" height="\(chartHeight)" viewBox="0 0 \(labelWidth + chartWidth + 160) \(chartHeight)">
            \(bars)</svg>
            <table>
            <thead><tr><th>Code</th><th>Municipality</th><th class="n">Quota</th><th class="n">Placed persons</th><th class="n">Households</th><th class="n">Proposed persons</th><th class="n">Children</th><th class="n">Special needs</th><th class="n">Forced</th><th class="n">On time</th><th class="n">Late</th><th class="n">Fill</th></tr></thead>
            <tbody>
            \(rows)</tbody>
            </table>
            <h2>Plan and intake by month</h2>
            <p class="legend">Cumulative persons: <span style="background:#2e6db4"></span>received (confirmed) <span style="background:#9aa5b1"></span>released by the municipality's plan (without a plan, the whole quota from January)</p>
            \(charts)
            <p class="meta">On time / late: placed households received by their latest reception date, and after it. Waiting past their latest reception date: \(deadlines.waitingPastDate) households; due within 14 days: \(deadlines.dueWithin14Days).</p>
            <p class="meta">\(Self.html(endingsSentence))</p>
            \(transfers.isEmpty ? "" : "<h2>Quota transfers by agreement</h2><ul>" + transferSentences.map { "<li>\(Self.html($0))</li>" }.joined() + "</ul>")
            """)
    }
}

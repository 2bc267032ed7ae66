import Foundation
import Postgres

/// A simulation's figures for people (a table, a page with charts) and for scripts (JSON,
/// `reception-simulation/1`). Codes, names and counts only: a simulated year holds no person.
extension YearSimulation.Outcome: Encodable {
    /// One municipality's plan against what each replay received, month by month.
    public struct MunicipalityMonths: Encodable, Sendable {
        public var code: String
        public var name: String
        public var personsQuota: Int
        /// Persons released by the plan by the end of each month (cumulative).
        public var planPersons: [Int]
        public var plain: [YearSimulation.Month]
        public var lookAhead: [YearSimulation.Month]

        /// Cumulative persons received by the end of each month.
        public static func cumulative(_ months: [YearSimulation.Month]) -> [Int] {
            var total = 0
            return months.map { total += $0.persons; return total }
        }

        enum CodingKeys: String, CodingKey {
            case code, name, personsQuota = "persons_quota", planPersons = "plan_persons_by_month_end"
            case plain, lookAhead = "look_ahead"
        }
    }

    public var municipalityMonths: [MunicipalityMonths] {
        year.municipalities.enumerated().map { m, municipality in
            let quota = municipality.municipality.capacity["persons"] ?? 0
            return MunicipalityMonths(
                code: municipality.code, name: municipality.municipality.name, personsQuota: quota,
                planPersons: CapacityPlan.releasedByMonthEnd(municipality.plan["persons"] ?? [], quota: quota, period: year.period),
                plain: plain.intake[m], lookAhead: lookAhead.intake[m])
        }
    }

    private struct Shared: Encodable {
        var replay: YearSimulation.Replay
        var share: Double
        enum CodingKeys: String, CodingKey { case shareOfHindsight = "share_of_hindsight" }
        func encode(to encoder: any Encoder) throws {
            try replay.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(share, forKey: .shareOfHindsight)
        }
    }

    enum CodingKeys: String, CodingKey {
        case format, period, source, everyDays = "every_days", deadlineRule = "deadline_rule", batches, households, persons, timeLimit = "time_limit_per_batch"
        case hindsight, plain, lookAhead = "look_ahead", gapClosed = "gap_closed", municipalities, seconds
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode("reception-simulation/1", forKey: .format)
        try container.encode(year.period, forKey: .period)
        try container.encode(year.source, forKey: .source)
        try container.encode(settings.every, forKey: .everyDays)
        try container.encode(settings.deadlineRule, forKey: .deadlineRule)
        try container.encode(batchDays.count, forKey: .batches)
        try container.encode(year.households.count, forKey: .households)
        try container.encode(year.households.reduce(0) { $0 + $1.persons }, forKey: .persons)
        try container.encode(settings.timeLimit, forKey: .timeLimit)
        try container.encode(hindsight, forKey: .hindsight)
        try container.encode(Shared(replay: plain, share: share(plain)), forKey: .plain)
        try container.encode(Shared(replay: lookAhead, share: share(lookAhead)), forKey: .lookAhead)
        try container.encode(gapClosed, forKey: .gapClosed)
        try container.encode(municipalityMonths, forKey: .municipalities)
        try container.encode((seconds * 10).rounded() / 10, forKey: .seconds)
    }

    static func percent(_ share: Double) -> String { String(format: "%.1f%%", share * 100) }

    /// The year in a sentence.
    public var headline: String {
        "\(year.period): \(year.source), batches every \(settings.every) days (\(batchDays.count))"
            + (settings.deadlineRule ? "." : ", without the deadline rule.")
    }

    /// The comparison, and each municipality's plan against intake by month (persons, cumulative).
    public func renderTable() -> String {
        let figures: [(String, (YearSimulation.Replay) -> String, String)] = [
            ("Score, share of hindsight", { Self.percent(share($0)) }, "100%"),
            ("Score", { String($0.score) }, "\(hindsight.objective) (bound \(hindsight.bound))"),
            ("Households placed", { String($0.householdsPlaced) }, String(hindsight.householdsPlaced)),
            ("Persons placed", { String($0.personsPlaced) }, String(hindsight.personsPlaced)),
            ("Received after latest date", { String($0.receivedLate) }, "–"),
            ("Left waiting when due, with room", { String($0.lateDespiteCapacity) }, "–"),
            ("Waiting at year end", { String($0.waitingAtEnd) }, String(year.households.count - hindsight.householdsPlaced)),
            ("  of them past latest date", { String($0.overdueAtEnd) }, "–"),
            ("Placed first by the deadline rule", { String($0.placedDueFirst) }, "–"),
            ("Batches with a forecast", { String($0.batchesWithForecast) }, "–"),
            ("Kept waiting for expected arrivals", { String($0.keptForExpected) }, "–"),
        ]
        var text = "Simulated " + headline + "\n\n"
        text += TerminalTable(headers: ["", "PLAIN", "LOOK-AHEAD", "HINDSIGHT"],
                              rows: figures.map { [$0.0, $0.1(plain), $0.1(lookAhead), $0.2] },
                              numericColumns: [1, 2, 3]).render()
        text += "\n\nLook-ahead closes \(Self.percent(gapClosed)) of the plain batches' gap to hindsight. "
        text += "Hindsight places the whole year's anvisningar at once against the whole quota (no plan, no deadlines).\n\n"
        text += "Persons received by month end (cumulative) against the plan's release:\n"
        let months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
        var rows: [[String]] = []
        for m in municipalityMonths {
            rows.append(["\(m.name) (\(m.code))", "plan"] + m.planPersons.map(String.init))
            rows.append(["", "plain"] + MunicipalityMonths.cumulative(m.plain).map(String.init))
            rows.append(["", "look-ahead"] + MunicipalityMonths.cumulative(m.lookAhead).map(String.init))
        }
        text += TerminalTable(headers: ["MUNICIPALITY", ""] + months, rows: rows, numericColumns: Set(2..<14)).render()
        let broken = plain.violations + lookAhead.violations
        if !broken.isEmpty { text += "\n\nINVARIANTS BROKEN:\n" + broken.joined(separator: "\n") }
        return text + "\n"
    }

    /// One page, no external resources: the comparison, then a chart per municipality of the
    /// plan's cumulative release against what each replay received.
    public func renderHTML(title: String = "Reception year simulation") -> String {
        let h = IntakeReport.html
        // The score bars.
        let bars = [("Plain weekly batches", share(plain), "plain"), ("With look-ahead", share(lookAhead), "ahead"),
                    ("Hindsight (the year at once)", 1.0, "hindsight")]
        let barWidth = 420, labelWidth = 220
        let low = min(0.9, max(0, min(share(plain), share(lookAhead)) - 0.1))
        func width(_ share: Double) -> Int { Int((share - low) / (1 - low) * Double(barWidth)) }
        var scoreBars = ""
        for (index, bar) in bars.enumerated() {
            let y = index * 34
            scoreBars += """
                <text x="\(labelWidth - 8)" y="\(y + 19)" text-anchor="end">\(h(bar.0))</text>
                <rect x="\(labelWidth)" y="\(y)" width="\(max(1, width(bar.1)))" height="26" class="\(bar.2)"></rect>
                <text x="\(labelWidth + max(1, width(bar.1)) + 8)" y="\(y + 19)">\(Self.percent(bar.1))</text>

                """
        }
        let rows = [("Households placed", plain.householdsPlaced, lookAhead.householdsPlaced, String(hindsight.householdsPlaced)),
                    ("Persons placed", plain.personsPlaced, lookAhead.personsPlaced, String(hindsight.personsPlaced)),
                    ("Received after their latest date", plain.receivedLate, lookAhead.receivedLate, "–"),
                    ("Left waiting when due although capacity existed", plain.lateDespiteCapacity, lookAhead.lateDespiteCapacity, "–"),
                    ("Waiting at year end", plain.waitingAtEnd, lookAhead.waitingAtEnd, String(year.households.count - hindsight.householdsPlaced)),
                    ("… past their latest date", plain.overdueAtEnd, lookAhead.overdueAtEnd, "–"),
                    ("Placed first by the deadline rule", plain.placedDueFirst, lookAhead.placedDueFirst, "–"),
                    ("Kept waiting for expected arrivals", plain.keptForExpected, lookAhead.keptForExpected, "–")]
            .map { "<tr><td>\(h($0.0))</td><td class=\"n\">\($0.1)</td><td class=\"n\">\($0.2)</td><td class=\"n\">\($0.3)</td></tr>" }
            .joined(separator: "\n")
        var charts = ""
        for m in municipalityMonths where m.personsQuota > 0 {
            let w = 320, ch = 150, left = 36, bottom = 20, top = 8
            let plainLine = MunicipalityMonths.cumulative(m.plain), aheadLine = MunicipalityMonths.cumulative(m.lookAhead)
            let peak = max(1, (m.planPersons + plainLine + aheadLine).max() ?? 1)
            func x(_ month: Int) -> Int { left + month * (w - left - 8) / 11 }
            func y(_ value: Int) -> Int { ch - bottom - value * (ch - bottom - top) / peak }
            func points(_ values: [Int]) -> String { values.enumerated().map { "\(x($0.offset)),\(y($0.element))" }.joined(separator: " ") }
            charts += """
                <figure class="month"><figcaption>\(h(m.name)) (\(h(m.code))) · quota \(m.personsQuota) persons</figcaption>
                <svg role="img" aria-label="Plan and intake by month, \(h(m.name))" width="\(w)" height="\(ch)" viewBox="0 0 \(w) \(ch)">
                <line x1="\(left)" y1="\(ch - bottom)" x2="\(w - 8)" y2="\(ch - bottom)" class="axis"/>
                <text x="\(left - 4)" y="\(y(peak) + 4)" text-anchor="end">\(peak)</text><text x="\(left - 4)" y="\(ch - bottom + 4)" text-anchor="end">0</text>
                <text x="\(x(0))" y="\(ch - 4)" text-anchor="middle">Jan</text><text x="\(x(5))" y="\(ch - 4)" text-anchor="middle">Jun</text><text x="\(x(11) + 6)" y="\(ch - 4)" text-anchor="end">Dec</text>
                <polyline points="\(points(m.planPersons))" class="plan"><title>released by the plan</title></polyline>
                <polyline points="\(points(plainLine))" class="plain"><title>received, plain batches</title></polyline>
                <polyline points="\(points(aheadLine))" class="ahead"><title>received, with look-ahead</title></polyline>
                </svg></figure>

                """
        }
        let broken = plain.violations + lookAhead.violations
        let style = """
            body { max-width: 72rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
            rect.plain { fill: #d9822b; } rect.ahead { fill: #2e6db4; } rect.hindsight { fill: #9aa5b1; }
            table { border-collapse: collapse; margin-top: 1rem; }
            polyline.plain, polyline.ahead { fill: none; stroke-width: 2.5; } polyline.plain { stroke: #d9822b; } polyline.ahead { stroke: #2e6db4; }
            .broken { color: #b03a2e; font-weight: 600; }
            """
        return HTMLPage.document(title: "\(title) \(year.period)", style: style, body: """
            <h1>\(h(title)) \(year.period)</h1>
            <p class="meta">\(h(headline)) A simulation: no live case was read or written.</p>
            <h2>Score as a share of hindsight</h2>
            <svg role="img" aria-label="Score as a share of hindsight" width="\(labelWidth + barWidth + 80)" height="\(bars.count * 34)" viewBox="0 0 \(labelWidth + barWidth + 80) \(bars.count * 34)">
            \(scoreBars)</svg>
            <p>Look-ahead closes \(Self.percent(gapClosed)) of the plain batches' gap. Hindsight places the whole year's anvisningar at once against the whole quota, with no plan and no deadlines: no run of batches can score more than its proven bound, \(hindsight.bound). The bars start at \(Self.percent(low)).</p>
            <table>
            <thead><tr><th></th><th class="n">Plain</th><th class="n">Look-ahead</th><th class="n">Hindsight</th></tr></thead>
            <tbody>
            \(rows)
            </tbody>
            </table>
            <h2>Plan and intake by month</h2>
            <p class="legend">Cumulative persons: <span style="background:#9aa5b1"></span>released by the plan <span style="background:#d9822b"></span>received, plain batches <span style="background:#2e6db4"></span>received, with look-ahead</p>
            \(charts)
            \(broken.isEmpty ? "" : "<p class=\"broken\">Invariants broken:</p><ul>" + broken.map { "<li>\(h($0))</li>" }.joined() + "</ul>")
            """)
    }
}

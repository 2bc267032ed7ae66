import Foundation
import Postgres

/// A municipality's plan over its period (sql/015_capacity_plans.sql): for each dimension, so
/// many units released from a day. A batch on a day uses what the plan has released by then (at
/// most the quota) less what is used; a dimension without a plan has its whole quota released.
public enum CapacityPlan {
    /// Units available from a day.
    public struct Release: Sendable, Equatable, Codable, Comparable {
        public var from: CalendarDay
        public var units: Int
        public init(from: CalendarDay, units: Int) {
            self.from = from
            self.units = units
        }
        public static func < (a: Release, b: Release) -> Bool { a.from < b.from }
    }

    /// One dimension's plan with its quota, and what it has released by the end of each month.
    public struct Line: Sendable, Equatable, Encodable {
        public let dimension: String
        public let quota: Int
        public let releases: [Release]
        /// Cumulative units released by the last day of each month, January first, at most the quota.
        public let byMonth: [Int]
        enum CodingKeys: String, CodingKey { case dimension, quota, releases, byMonth = "released_by_month_end" }
    }

    /// Parses `persons=10/month` (twelve releases of 10, on the first of each month) and
    /// `dwellings=2@2027-03-15` (one release on a day; a dimension may have several), reporting
    /// every argument that is wrong.
    public static func parse(_ texts: [String], period: Int) throws -> [String: [Release]] {
        var plans: [String: [CalendarDay: Int]] = [:]
        var problems: [ValidationProblem] = []
        func problem(_ text: String, _ reason: String) {
            problems.append(ValidationProblem(.arguments, field: CaseFieldRules.quoted(text), reason: reason))
        }
        for text in texts {
            let parts = text.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            guard parts.count == 2, CaseFieldRules.isSnakeCase(name) else {
                problem(text, "expected dimension=N/month or dimension=N@YYYY-MM-DD, e.g. persons=10/month or dwellings=2@\(period)-03-15")
                continue
            }
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            if value.hasSuffix("/month") {
                guard let units = Int(value.dropLast("/month".count)), (1...1_000_000).contains(units) else {
                    problem(text, "the units per month must be a whole number from 1 to 1000000")
                    continue
                }
                for month in 1...12 {
                    plans[name, default: [:]][CalendarDay(year: period, month: month, day: 1)!, default: 0] += units
                }
            } else if let at = value.firstIndex(of: "@") {
                guard let units = Int(value[..<at]), (1...1_000_000).contains(units) else {
                    problem(text, "the units must be a whole number from 1 to 1000000")
                    continue
                }
                guard let day = CaseFieldRules.day(String(value[value.index(after: at)...])) else {
                    problem(text, "\(CaseFieldRules.quoted(String(value[value.index(after: at)...]))) is not a date (YYYY-MM-DD)")
                    continue
                }
                guard day.year == period else {
                    problem(text, "\(day) is not in the period \(period)")
                    continue
                }
                plans[name, default: [:]][day, default: 0] += units
            } else {
                problem(text, "expected N/month or N@YYYY-MM-DD after \(name)=")
            }
        }
        if !problems.isEmpty { throw InvalidInput(problems) }
        return plans.mapValues { days in days.map { Release(from: $0.key, units: $0.value) }.sorted() }
    }

    /// A CSV of releases: a header naming `dimension`, `from` (a day, YYYY-MM-DD, or a month,
    /// YYYY-MM, for its first day) and `units`, in any order. Every problem is reported with its
    /// line and field.
    public static func parseCSV(_ data: [UInt8], period: Int) throws -> [String: [Release]] {
        let document = CSVReader.read(data)
        var problems = document.problems.map { ValidationProblem(.line($0.line), field: "", reason: $0.reason) }
        guard let header = document.records.first else {
            throw InvalidInput(problems.isEmpty ? [ValidationProblem(.file, field: "", reason: "the file is empty; it needs a header row: dimension,from,units")] : problems)
        }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        let columns = ["dimension", "from", "units"]
        for column in columns where !names.contains(column) {
            problems.append(ValidationProblem(.line(header.line), field: column, reason: "the header has no \(column) column (the columns are dimension,from,units)"))
        }
        for name in names where !columns.contains(name) {
            problems.append(ValidationProblem(.line(header.line), field: CaseFieldRules.quoted(name), reason: "unknown column (the columns are dimension,from,units)"))
        }
        guard problems.isEmpty else { throw InvalidInput(problems) }
        let at = Dictionary(uniqueKeysWithValues: columns.map { ($0, names.firstIndex(of: $0)!) })
        var plans: [String: [CalendarDay: Int]] = [:]
        for record in document.records.dropFirst() {
            guard record.fields.count == names.count else {
                problems.append(ValidationProblem(.line(record.line), field: "", reason: "\(record.fields.count) fields, but the header has \(names.count)"))
                continue
            }
            let dimension = record.fields[at["dimension"]!].trimmingCharacters(in: .whitespaces)
            let fromText = record.fields[at["from"]!].trimmingCharacters(in: .whitespaces)
            let unitsText = record.fields[at["units"]!].trimmingCharacters(in: .whitespaces)
            let before = problems.count
            if !CaseFieldRules.isSnakeCase(dimension) {
                problems.append(ValidationProblem(.line(record.line), field: "dimension", reason: "\(CaseFieldRules.quoted(dimension)) is not a dimension name"))
            }
            let day = CaseFieldRules.day(fromText) ?? (fromText.count == 7 ? CaseFieldRules.day(fromText + "-01") : nil)
            if day == nil {
                problems.append(ValidationProblem(.line(record.line), field: "from", reason: "\(CaseFieldRules.quoted(fromText)) is not a day (YYYY-MM-DD) or a month (YYYY-MM)"))
            } else if day!.year != period {
                problems.append(ValidationProblem(.line(record.line), field: "from", reason: "\(day!) is not in the period \(period)"))
            }
            let units = Int(unitsText)
            if units == nil || !(1...1_000_000).contains(units!) {
                problems.append(ValidationProblem(.line(record.line), field: "units", reason: "\(CaseFieldRules.quoted(unitsText)) is not a whole number from 1 to 1000000"))
            }
            if problems.count == before, let day, let units { plans[dimension, default: [:]][day, default: 0] += units }
        }
        if plans.isEmpty && problems.isEmpty {
            problems.append(ValidationProblem(.file, field: "", reason: "no releases in the file (a header row and no rows)"))
        }
        if !problems.isEmpty { throw InvalidInput(problems) }
        return plans.mapValues { days in days.map { Release(from: $0.key, units: $0.value) }.sorted() }
    }

    /// Replaces the plans of the given dimensions, all in one transaction (audited by the
    /// database as `capacity.plan_set`, one event per dimension). An empty list removes a plan.
    public static func set(municipality code: String, period: Int, plans: [String: [Release]],
                           on connection: Connection) async throws -> [Line] {
        // set_capacity_plan refuses a dimension without a quota (the one place of that rule);
        // its message names codes and numbers only.
        do {
            return try await setPlans(municipality: code, period: period, plans: plans, on: connection)
        } catch let PostgresError.server(error) where error.sqlState == .invalidParameterValue {
            throw ReceptionError.invalid(error.message + "; set the quota first (reception capacity set)")
        }
    }

    private static func setPlans(municipality code: String, period: Int, plans: [String: [Release]],
                                 on connection: Connection) async throws -> [Line] {
        try await connection.withTransaction { connection in
            for (dimension, releases) in plans.sorted(by: { $0.key < $1.key }) {
                let json = releases.map { ["from": $0.from.description, "units": String($0.units)] }
                try await connection.execute("""
                    SELECT set_capacity_plan(\(code), \(period)::int, \(dimension), \(JSONValue(json)))
                    """)
            }
            return try await show(municipality: code, period: period, on: connection)
        }
    }

    /// The plan of each dimension of the municipality's quota in the period (a dimension without
    /// a plan shows its whole quota released from 1 January).
    public static func show(municipality code: String, period: Int, on connection: Connection) async throws -> [Line] {
        let rows = try await connection.query("""
            SELECT k.dimension, k.quota,
                   coalesce(array_agg(p.available_from::text ORDER BY p.available_from) FILTER (WHERE p.units IS NOT NULL), '{}') AS days,
                   coalesce(array_agg(p.units ORDER BY p.available_from) FILTER (WHERE p.units IS NOT NULL), '{}') AS units
            FROM capacity_overview k
            LEFT JOIN capacity_plan p ON p.municipality_code = k.municipality_code AND p.period = k.period AND p.dimension = k.dimension
            WHERE k.municipality_code = \(code) AND k.period = \(period)
            GROUP BY k.dimension, k.quota
            ORDER BY k.dimension
            """)
        return try rows.map { row in
            let quota = try row.decode("quota", as: Int.self)
            let days = try row.decode("days", as: [String].self).compactMap(CaseFieldRules.day)
            let units = try row.decode("units", as: [Int].self)
            let releases = zip(days, units).map { Release(from: $0, units: $1) }
            return Line(dimension: try row.decode("dimension"), quota: quota, releases: releases,
                        byMonth: releasedByMonthEnd(releases, quota: quota, period: period))
        }
    }

    /// Cumulative units released by the last day of each month of `period`, at most `quota`;
    /// the whole quota every month when there is no plan (capacity_released's rule, sql/015).
    public static func releasedByMonthEnd(_ releases: [Release], quota: Int, period: Int) -> [Int] {
        (1...12).map { month in released(releases, quota: quota, by: CalendarDay(year: period, month: month, day: 1)!.lastOfMonth) }
    }

    /// What a plan has released by `day`: the units of the releases from that day or earlier, at
    /// most the quota; the whole quota without a plan. sql/015's `capacity_released` is this
    /// rule for batches on the database; this one serves what never reaches it (the year
    /// simulation, the report's months).
    public static func released(_ releases: [Release], quota: Int, by day: CalendarDay) -> Int {
        guard !releases.isEmpty else { return quota }
        return min(quota, releases.reduce(0) { $1.from <= day ? $0 + $1.units : $0 })
    }
}

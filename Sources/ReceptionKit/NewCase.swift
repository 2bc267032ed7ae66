import Placement
import Postgres

/// A household about to be registered, already validated: every rule of the `cases` and
/// `case_needs` tables holds, so writing it can only fail on what the database alone knows
/// (a reference registered meanwhile). Shared by `case add` and both import formats.
public struct NewCase: Sendable, Equatable {
    public var reference: String
    /// One element per member, whole years, 0–120.
    public var ages: [Int]
    /// Needs beyond what the ages imply, such as `trauma_care: 1`, in the order given.
    public var needs: [Need]
    public var language: String?
    public var occupations: [String]
    /// Municipality codes.
    public var familyTies: [String]
    public var preferences: [String]
    public var excluded: [String]
    public var arrivedOn: CalendarDay
    /// The anvisning's date: by default the arrival date.
    public var anvisningOn: CalendarDay
    /// Whether the anvisning date was given (else it is the arrival's).
    public var anvisningGiven: Bool
    /// The latest reception date the anvisning names; nil: the database's default, two months
    /// after the anvisning (sql/013_anvisningar.sql).
    public var latestReceptionOn: CalendarDay?
    public var category: CaseCategory

    /// The latest reception date of an anvisning that names none: two months after it. The
    /// database's generated column `cases.latest_reception_on` (sql/013_anvisningar.sql) is the
    /// rule for registered cases; this is the same rule for households that are never stored
    /// (``YearSimulation``), and YearSimulationTests' theDefaultLatestReceptionDateIsTheDatabasesToo holds
    /// the two to the same dates.
    public static func defaultLatestReception(after anvisning: CalendarDay) -> CalendarDay {
        anvisning.adding(months: 2) ?? anvisning
    }

    /// The latest reception date: the one given, else ``defaultLatestReception(after:)``.
    public var latestReception: CalendarDay { latestReceptionOn ?? Self.defaultLatestReception(after: anvisningOn) }

    public struct Need: Sendable, Hashable {
        public var dimension: String
        public var units: Int
        public init(dimension: String, units: Int) {
            self.dimension = dimension
            self.units = units
        }
    }

    public init(reference: String, ages: [Int], needs: [Need] = [], language: String? = nil,
                occupations: [String] = [], familyTies: [String] = [], preferences: [String] = [],
                excluded: [String] = [], arrivedOn: CalendarDay, anvisningOn: CalendarDay? = nil,
                latestReceptionOn: CalendarDay? = nil, category: CaseCategory = .agencyAccommodation) {
        self.reference = reference
        self.ages = ages
        self.needs = needs
        self.language = language
        self.occupations = occupations
        self.familyTies = familyTies
        self.preferences = preferences
        self.excluded = excluded
        self.arrivedOn = arrivedOn
        self.anvisningOn = anvisningOn ?? arrivedOn
        self.anvisningGiven = anvisningOn != nil
        self.latestReceptionOn = latestReceptionOn
        self.category = category
    }
}

/// What validation checks a case against besides its own fields.
public struct CaseRules: Sendable {
    /// The dimensions table: a need must name one of these, unless `acceptNewNeeds`.
    public var knownDimensions: Set<String>
    /// Accept unknown need names; registration then adds them to `dimensions`.
    public var acceptNewNeeds: Bool
    /// Arrival dates after this day are refused; an absent arrival date means this day.
    public var today: CalendarDay
    /// How a date after `today` is refused: "is in the future", or for a simulated year (whose
    /// `today` is its last day) "is after the simulated period (2027)".
    public var beyondToday = "is in the future"

    /// Computed from the ages (placement-instance/1, ``Demand``), so never a need of their own.
    public static let computedDimensions = Set(Demand.computedDimensions)

    public init(knownDimensions: Set<String>, acceptNewNeeds: Bool = false, today: CalendarDay) {
        self.knownDimensions = knownDimensions
        self.acceptNewNeeds = acceptNewNeeds
        self.today = today
    }

    /// The rules with the dimensions the database knows now, and its "today" (ReceptionClock).
    public static func load(on connection: Connection, acceptNewNeeds: Bool = false) async throws -> CaseRules {
        let rows = try await connection.query("SELECT name FROM dimensions ORDER BY name")
        return CaseRules(knownDimensions: Set(try rows.map { try $0.decode("name", as: String.self) }),
                         acceptNewNeeds: acceptNewNeeds, today: try await ReceptionClock.today(on: connection))
    }

    /// The needs a case may have that are not yet dimensions, sorted.
    public func unknownNeeds(in cases: some Sequence<NewCase>) -> [String] {
        var unknown: Set<String> = []
        for item in cases {
            for need in item.needs where !knownDimensions.contains(need.dimension) { unknown.insert(need.dimension) }
        }
        return unknown.sorted()
    }
}

/// The rules of one field each, as the schema states them, returning the reason a value is
/// refused (nil when it is fine). Hand-written rather than regular expressions: an import
/// checks a million values.
public enum CaseFieldRules {
    public static let maxMembers = 100
    public static let ageRange = 0...120
    public static let unitsRange = 1...1000
    public static let earliestArrival = CalendarDay(year: 1990, month: 1, day: 1)!

    public static func reference(_ text: String) -> String? {
        if text.isEmpty { return "is empty" }
        let bytes = text.utf8
        if bytes.count > 64 { return "is longer than 64 characters" }
        var first = true
        for byte in bytes {
            let ok = isAlphanumeric(byte) || (!first && (byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "-")))
            if !ok {
                return first ? "\(quoted(text)) must start with a letter or digit"
                             : "\(quoted(text)) may hold only letters A–Z, digits and . _ / -"
            }
            first = false
        }
        return nil
    }

    public static func age(_ age: Int) -> String? {
        ageRange.contains(age) ? nil : "\(age) is not an age (0–120)"
    }

    public static func memberCount(_ count: Int) -> String? {
        if count == 0 { return "a household has at least one member" }
        if count > maxMembers { return "\(count) members; at most \(maxMembers)" }
        return nil
    }

    public static func units(_ units: Int, of need: String) -> String? {
        unitsRange.contains(units) ? nil : "\(units) units of \(need); a need has 1 to 1000"
    }

    public static func needName(_ name: String, rules: CaseRules) -> String? {
        if !isSnakeCase(name) || name.utf8.count > 63 {
            return "\(quoted(name)) is not a need name (lower-case letters, digits and _, e.g. trauma_care)"
        }
        if CaseRules.computedDimensions.contains(name) {
            return "\(name) is computed from the ages and is not a need"
        }
        if !rules.acceptNewNeeds && !rules.knownDimensions.contains(name) {
            let known = rules.knownDimensions.subtracting(CaseRules.computedDimensions).sorted().joined(separator: ", ")
            return "unknown need \(name) (known: \(known); --new-needs registers new ones)"
        }
        return nil
    }

    public static func language(_ text: String) -> String? {
        // ^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$, a BCP 47 tag such as ar, prs, sr-Latn
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        let primary = parts[0].utf8
        var ok = (2...3).contains(primary.count) && primary.allSatisfy(isLowercase)
        for subtag in parts.dropFirst() where ok {
            ok = (2...8).contains(subtag.utf8.count) && subtag.utf8.allSatisfy(isAlphanumeric)
        }
        return ok ? nil : "\(quoted(text)) is not a language code (ISO 639, e.g. ar, prs, ti)"
    }

    public static func occupation(_ text: String) -> String? {
        isSnakeCase(text) ? nil : "\(quoted(text)) is not an occupation code (lower-case letters, digits and _, e.g. assistant_nurse)"
    }

    public static func municipalityCode(_ text: String) -> String? {
        text.utf8.count == 4 && text.utf8.allSatisfy(isDigit) ? nil : "\(quoted(text)) is not a municipality code (four digits, e.g. 2480)"
    }

    /// `YYYY-MM-DD`, strictly; nil for anything else. Byte-wise, as CalendarDay's own parser
    /// splits Characters, which an import of 100,000 rows notices.
    public static func day(_ text: String) -> CalendarDay? {
        let bytes = Array(text.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard isDigit(byte) else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10) else { return nil }
        return CalendarDay(year: year, month: month, day: day)
    }

    public static func arrival(_ day: CalendarDay, today: CalendarDay, beyond: String = "is in the future") -> String? {
        if day < earliestArrival { return "\(day) is before 1990-01-01" }
        // `today` is the cooperation's own date (ReceptionClock), so no slack is needed.
        if day > today { return "\(day) \(beyond)" }
        return nil
    }

    /// An anvisning date: not before 1990, not after today.
    public static func anvisning(_ day: CalendarDay, today: CalendarDay, beyond: String = "is in the future") -> String? {
        if day < earliestArrival { return "\(day) is before 1990-01-01" }
        if day > today { return "\(day) \(beyond)" }
        return nil
    }

    /// The longest an anvisning may give (sql/013_anvisningar.sql): two years.
    public static let longestReceptionDays = 730

    /// A category name, or the reason it is none.
    public static func category(_ text: String) -> Result<CaseCategory, CategoryProblem> {
        if let category = CaseCategory(rawValue: text) { return .success(category) }
        return .failure(CategoryProblem(reason: "\(quoted(text)) is not a category (\(CaseCategory.allCases.map(\.rawValue).joined(separator: ", ")))"))
    }

    public struct CategoryProblem: Error { public let reason: String }

    /// Cross-field rules, on a case whose fields are each valid. Field names are those of the
    /// CSV columns (and JSON keys).
    public static func consistency(_ item: NewCase) -> (field: String, reason: String)? {
        let both = Set(item.preferences).intersection(item.excluded)
        if !both.isEmpty {
            return ("preferences", "\(both.sorted().joined(separator: ", ")) is both preferred and excluded")
        }
        if let latest = item.latestReceptionOn {
            if latest < item.anvisningOn {
                return ("latest_reception", "\(latest) is before the anvisning (\(item.anvisningOn))")
            }
            if item.anvisningOn.days(until: latest) > longestReceptionDays {
                return ("latest_reception", "\(latest) is more than two years after the anvisning (\(item.anvisningOn))")
            }
        }
        return nil
    }

    // MARK: Characters

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }
    static func isLowercase(_ byte: UInt8) -> Bool { byte >= 97 && byte <= 122 }
    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isDigit(byte) || isLowercase(byte) || (byte >= 65 && byte <= 90)
    }
    static func isSnakeCase(_ text: String) -> Bool {
        guard let first = text.utf8.first, isLowercase(first) else { return false }
        return text.utf8.allSatisfy { isLowercase($0) || isDigit($0) || $0 == UInt8(ascii: "_") }
    }

    /// The offending value for the officer's terminal, cut short so that a stray column of
    /// text does not flood the report.
    static func quoted(_ text: String) -> String {
        let cut = text.count > 40 ? String(text.prefix(40)) + "…" : text
        var result = "\""
        for character in cut {
            switch character {
            case "\n", "\r\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default: result.append(character)
            }
        }
        return result + "\""
    }
}

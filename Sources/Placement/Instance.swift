/// The placement instance of FORMAT.md (`placement-instance/1`): who arrives, where there is room,
/// what each placement is worth. This is a plain value; the daemon builds one in memory, the CLI
/// decodes one with ``PlacementInstance/decode(from:)``.
public struct PlacementInstance: Sendable, Equatable {
    /// The value of the `format` key.
    public static let formatName = "placement-instance/1"

    /// Score weights; a weight absent from the JSON is 0.
    public struct Weights: Sendable, Equatable {
        public var placed: Int
        /// JSON `placed_person`: added once per member of a placed household, for a cooperation
        /// that counts its quota in persons rather than households.
        public var placedPerson: Int
        public var waitingDay: Int
        public var familyTies: Int
        public var language: Int
        public var occupation: Int
        public var preference: Int

        public init(placed: Int = 0, placedPerson: Int = 0, waitingDay: Int = 0, familyTies: Int = 0,
                    language: Int = 0, occupation: Int = 0, preference: Int = 0) {
            self.placed = placed
            self.placedPerson = placedPerson
            self.waitingDay = waitingDay
            self.familyTies = familyTies
            self.language = language
            self.occupation = occupation
            self.preference = preference
        }

        /// What placing `household` is worth wherever it goes: `placed + placed_person ×
        /// |members| + waiting_day × waiting_days` (FORMAT.md "Score"; the municipality's terms
        /// come on top).
        public func base(of household: Case) -> Int {
            placed + placedPerson * household.members.count + waitingDay * household.waitingDays
        }

        /// The weights of the FORMAT.md example.
        public static let standard = Weights(placed: 1000, waitingDay: 1, familyTies: 200,
                                             language: 40, occupation: 60, preference: 30)
    }

    /// A municipality and what it can still take in this run.
    public struct Municipality: Sendable, Equatable {
        /// Unique municipality code, e.g. "2480".
        public var code: String
        /// Display name, e.g. "Umeå"; defaults to the code.
        public var name: String
        /// Free capacity per dimension ("persons", "dwellings", "large_dwellings", "school_places",
        /// "preschool_places", or any need such as "dialysis"). An absent dimension has capacity 0.
        public var capacity: [String: Int]
        /// Languages offered (interpreters, teachers, communities).
        public var languages: [String]
        /// Occupations in shortage here.
        public var shortageOccupations: [String]

        public init(code: String, name: String? = nil, capacity: [String: Int],
                    languages: [String] = [], shortageOccupations: [String] = []) {
            self.code = code
            self.name = name ?? code
            self.capacity = capacity
            self.languages = languages
            self.shortageOccupations = shortageOccupations
        }
    }

    /// One member of a household.
    public struct Member: Sendable, Equatable {
        /// Whole years, 0–120.
        public var age: Int
        public init(age: Int) { self.age = age }
    }

    /// A case: one household, placed whole or not at all.
    public struct Case: Sendable, Equatable {
        /// Unique case id.
        public var id: String
        /// The household; never empty.
        public var members: [Member]
        /// Specialised needs, e.g. ["trauma_care": 1]; each value ≥ 1 is added to that dimension.
        public var needs: [String: Int]
        /// Main language, if known.
        public var language: String?
        public var occupations: [String]
        /// Codes of municipalities where the household has family.
        public var familyTies: [String]
        /// Codes of municipalities the household asked for.
        public var preferences: [String]
        /// Codes of municipalities where the case must never be placed (a hard rule).
        public var excluded: [String]
        /// Days waited so far (≥ 0).
        public var waitingDays: Int

        public init(id: String, members: [Member], needs: [String: Int] = [:],
                    language: String? = nil, occupations: [String] = [],
                    familyTies: [String] = [], preferences: [String] = [],
                    excluded: [String] = [], waitingDays: Int = 0) {
            self.id = id
            self.members = members
            self.needs = needs
            self.language = language
            self.occupations = occupations
            self.familyTies = familyTies
            self.preferences = preferences
            self.excluded = excluded
            self.waitingDays = waitingDays
        }

        /// Convenience: a household from its members' ages.
        public init(id: String, ages: [Int], needs: [String: Int] = [:], language: String? = nil,
                    occupations: [String] = [], familyTies: [String] = [],
                    preferences: [String] = [], excluded: [String] = [], waitingDays: Int = 0) {
            self.init(id: id, members: ages.map { Member(age: $0) }, needs: needs,
                      language: language, occupations: occupations, familyTies: familyTies,
                      preferences: preferences, excluded: excluded, waitingDays: waitingDays)
        }
    }

    public var weights: Weights
    public var municipalities: [Municipality]
    public var cases: [Case]
    /// Households expected to arrive later in the same period (FORMAT.md "Look-ahead"), in the
    /// shape of cases: a sample, never placed, only used to keep capacity for them.
    public var forecast: [Case]

    public init(weights: Weights = .standard, municipalities: [Municipality], cases: [Case], forecast: [Case] = []) {
        self.weights = weights
        self.municipalities = municipalities
        self.cases = cases
        self.forecast = forecast
    }
}

/// Why an instance was rejected: the JSON path of the offending value and what is wrong with it,
/// e.g. `cases[17].members[2].age: -3 is not an age`.
public struct InstanceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// JSON path such as `cases[17].members[2].age`; empty when the whole document is at fault.
    public var path: String
    /// What is wrong, in plain words.
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Limits that keep every score and sum exact in 64-bit integers and doubles.
enum InstanceLimits {
    static let maxAge = 120
    static let maxWeight = 1_000_000
    static let maxWaitingDays = 100_000
    static let maxQuantity = 1_000_000_000
}

extension PlacementInstance {
    /// Checks the rules of FORMAT.md that the type system does not: unique ids (across cases and
    /// forecast) and codes, ages 0–120, non-empty households, needs ≥ 1, capacities ≥ 0, waiting
    /// days ≥ 0, and sane magnitudes.
    /// ``decode(from:)`` calls this; the daemon should call it on instances it builds itself.
    /// The solver never traps on an invalid instance, but its result is then only as good as the data.
    public func validate() throws(InstanceError) {
        func check(_ ok: Bool, _ path: @autoclosure () -> String, _ message: @autoclosure () -> String) throws(InstanceError) {
            if !ok { throw InstanceError(path: path(), message: message()) }
        }
        let w = weights
        for (key, value) in [("placed", w.placed), ("placed_person", w.placedPerson), ("waiting_day", w.waitingDay),
                             ("family_ties", w.familyTies), ("language", w.language),
                             ("occupation", w.occupation), ("preference", w.preference)] {
            try check(abs(value) <= InstanceLimits.maxWeight, "weights.\(key)",
                      "\(value) is out of range (at most \(InstanceLimits.maxWeight) in magnitude)")
        }
        var codes: [String: Int] = [:]
        for (i, m) in municipalities.enumerated() {
            let at = "municipalities[\(i)]"
            try check(!m.code.isEmpty, "\(at).code", "must not be empty")
            if let first = codes[m.code] {
                throw InstanceError(path: "\(at).code", message: "\(quoted(m.code)) is used twice (also municipalities[\(first)])")
            }
            codes[m.code] = i
            for key in m.capacity.keys.sorted() {
                let v = m.capacity[key]!
                try check(v >= 0, "\(at).capacity.\(key)", "\(v) is not a capacity (must be 0 or more)")
                try check(v <= InstanceLimits.maxQuantity, "\(at).capacity.\(key)", "\(v) is too large")
            }
        }
        // Ids are unique across cases and forecast: a result names a case by its id alone.
        var ids: [String: String] = [:]
        for (list, name) in [(cases, "cases"), (forecast, "forecast")] {
            for (i, c) in list.enumerated() {
                let at = "\(name)[\(i)]"
                try check(!c.id.isEmpty, "\(at).id", "must not be empty")
                if let first = ids[c.id] {
                    throw InstanceError(path: "\(at).id", message: "\(quoted(c.id)) is used twice (also \(first))")
                }
                ids[c.id] = at
                try c.validate(at: at)
            }
        }
    }
}

extension PlacementInstance.Case {
    /// The rules of one household, with `at` (`cases[17]`, `forecast[3]`) as its JSON path.
    func validate(at: String) throws(InstanceError) {
        func check(_ ok: Bool, _ path: @autoclosure () -> String, _ message: @autoclosure () -> String) throws(InstanceError) {
            if !ok { throw InstanceError(path: path(), message: message()) }
        }
        try check(!members.isEmpty, "\(at).members", "a household needs at least one member")
        for (j, member) in members.enumerated() {
            try check(member.age >= 0 && member.age <= InstanceLimits.maxAge,
                      "\(at).members[\(j)].age", "\(member.age) is not an age (0 to 120)")
        }
        for key in needs.keys.sorted() {
            let v = needs[key]!
            try check(v >= 1, "\(at).needs.\(key)", "\(v) is not a need (a whole number, 1 or more)")
            try check(v <= InstanceLimits.maxQuantity, "\(at).needs.\(key)", "\(v) is too large")
        }
        try check(waitingDays >= 0, "\(at).waiting_days", "\(waitingDays) is negative")
        try check(waitingDays <= InstanceLimits.maxWaitingDays, "\(at).waiting_days",
                  "\(waitingDays) is out of range (at most \(InstanceLimits.maxWaitingDays))")
    }
}

func quoted(_ s: String) -> String {
    var out = "\""
    for ch in s.unicodeScalars {
        switch ch {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        default: out.unicodeScalars.append(ch)
        }
    }
    return out + "\""
}

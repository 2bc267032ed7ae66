import Foundation
import Postgres

/// A case as text, the way the command line and a CSV row give it: lists separated by `;`
/// (or `,`), a need as `name` or `name:units`, dates as `YYYY-MM-DD`. Only the reference and
/// the ages are required; an absent arrival date means today, an absent anvisning date the
/// arrival date, an absent latest reception date two months after the anvisning, an absent
/// category `agency_accommodation`.
public struct CaseTextFields: Sendable, Equatable {
    public var reference: String?
    public var ages: String?
    public var needs: String?
    public var language: String?
    public var occupations: String?
    public var familyTies: String?
    public var preferences: String?
    public var excluded: String?
    public var arrived: String?
    public var anvisning: String?
    public var latestReception: String?
    public var category: String?

    /// The field names, as CSV columns and in problem reports.
    public enum Field: String, CaseIterable, Sendable {
        case ref, ages, needs, language, occupations
        case familyTies = "family_ties"
        case preferences, excluded, arrived, anvisning
        case latestReception = "latest_reception"
        case category
    }

    public init(reference: String? = nil, ages: String? = nil, needs: String? = nil, language: String? = nil,
                occupations: String? = nil, familyTies: String? = nil, preferences: String? = nil,
                excluded: String? = nil, arrived: String? = nil, anvisning: String? = nil,
                latestReception: String? = nil, category: String? = nil) {
        self.reference = reference
        self.ages = ages
        self.needs = needs
        self.language = language
        self.occupations = occupations
        self.familyTies = familyTies
        self.preferences = preferences
        self.excluded = excluded
        self.arrived = arrived
        self.anvisning = anvisning
        self.latestReception = latestReception
        self.category = category
    }

    public subscript(field: Field) -> String? {
        get {
            switch field {
            case .ref: reference
            case .ages: ages
            case .needs: needs
            case .language: language
            case .occupations: occupations
            case .familyTies: familyTies
            case .preferences: preferences
            case .excluded: excluded
            case .arrived: arrived
            case .anvisning: anvisning
            case .latestReception: latestReception
            case .category: category
            }
        }
        set {
            switch field {
            case .ref: reference = newValue
            case .ages: ages = newValue
            case .needs: needs = newValue
            case .language: language = newValue
            case .occupations: occupations = newValue
            case .familyTies: familyTies = newValue
            case .preferences: preferences = newValue
            case .excluded: excluded = newValue
            case .arrived: arrived = newValue
            case .anvisning: anvisning = newValue
            case .latestReception: latestReception = newValue
            case .category: category = newValue
            }
        }
    }

    /// The validated case, or nil with every problem of this row appended to `problems`.
    public func validate(at location: ValidationProblem.Location, rules: CaseRules,
                         problems: inout [ValidationProblem]) -> NewCase? {
        let before = problems.count
        func problem(_ field: Field, _ reason: String) {
            problems.append(ValidationProblem(location, field: field.rawValue, reason: reason))
        }

        let reference = trimmed(self.reference) ?? ""
        if reference.isEmpty {
            problem(.ref, "is required")
        } else if let reason = CaseFieldRules.reference(reference) {
            problem(.ref, reason)
        }

        var ages: [Int] = []
        let ageItems = items(self.ages)
        if ageItems.isEmpty {
            problem(.ages, "is required (one age per member, e.g. 34;31;9)")
        } else {
            for item in ageItems {
                guard let age = Int(item) else {
                    if Self.isInteger(item) {
                        problem(.ages, ValidationProblem.mustBeBetween(CaseFieldRules.ageRange))
                    } else {
                        problem(.ages, "\(CaseFieldRules.quoted(String(item))) is not a whole number of years")
                    }
                    continue
                }
                if let reason = CaseFieldRules.age(age) { problem(.ages, reason) } else { ages.append(age) }
            }
            if let reason = CaseFieldRules.memberCount(ageItems.count) { problem(.ages, reason) }
        }

        var needs: [NewCase.Need] = []
        for item in items(self.needs) {
            let parts = item.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(Self.trim(parts[0]))
            var units = 1
            if parts.count == 2 {
                guard let parsed = Int(Self.trim(parts[1])) else {
                    if Self.isInteger(Self.trim(parts[1])) {
                        problem(.needs, "the units of \(CaseFieldRules.quoted(name)) \(ValidationProblem.mustBeBetween(CaseFieldRules.unitsRange))")
                    } else {
                        problem(.needs, "\(CaseFieldRules.quoted(String(item))) is not name or name:units (e.g. accessible_dwellings:1)")
                    }
                    continue
                }
                units = parsed
            }
            if let reason = CaseFieldRules.needName(name, rules: rules) { problem(.needs, reason); continue }
            if let reason = CaseFieldRules.units(units, of: name) { problem(.needs, reason); continue }
            if needs.contains(where: { $0.dimension == name }) { problem(.needs, "\(name) is listed twice"); continue }
            needs.append(NewCase.Need(dimension: name, units: units))
        }

        let language = trimmed(self.language)
        if let language, let reason = CaseFieldRules.language(language) { problem(.language, reason) }

        let occupations = codes(self.occupations, field: .occupations, rule: CaseFieldRules.occupation, problem)
        let familyTies = codes(self.familyTies, field: .familyTies, rule: CaseFieldRules.municipalityCode, problem)
        let preferences = codes(self.preferences, field: .preferences, rule: CaseFieldRules.municipalityCode, problem)
        let excluded = codes(self.excluded, field: .excluded, rule: CaseFieldRules.municipalityCode, problem)

        // A date field: nil when absent; a problem when it is not YYYY-MM-DD or breaks `rule`.
        func date(_ field: Field, rule: (CalendarDay) -> String? = { _ in nil }) -> CalendarDay? {
            guard let text = trimmed(self[field]) else { return nil }
            guard let day = CaseFieldRules.day(text) else {
                problem(field, "\(CaseFieldRules.quoted(text)) is not a date (YYYY-MM-DD)")
                return nil
            }
            if let reason = rule(day) { problem(field, reason) }
            return day
        }
        let arrivedOn = date(.arrived) { CaseFieldRules.arrival($0, today: rules.today, beyond: rules.beyondToday) } ?? rules.today
        let anvisningOn = date(.anvisning) { CaseFieldRules.anvisning($0, today: rules.today, beyond: rules.beyondToday) }
        let latestReceptionOn = date(.latestReception)
        var category = CaseCategory.agencyAccommodation
        if let text = trimmed(self.category) {
            switch CaseFieldRules.category(text) {
            case .success(let given): category = given
            case .failure(let failure): problem(.category, failure.reason)
            }
        }

        guard problems.count == before else { return nil }
        let result = NewCase(reference: reference, ages: ages, needs: needs, language: language,
                             occupations: occupations, familyTies: familyTies, preferences: preferences,
                             excluded: excluded, arrivedOn: arrivedOn, anvisningOn: anvisningOn,
                             latestReceptionOn: latestReceptionOn, category: category)
        if let (field, reason) = CaseFieldRules.consistency(result) {
            problems.append(ValidationProblem(location, field: field, reason: reason))
            return nil
        }
        return result
    }

    private func trimmed(_ text: String?) -> String? {
        guard let text else { return nil }
        let value = Self.trim(text[...])
        return value.isEmpty ? nil : String(value)
    }

    /// `a;b`, `a,b`, `a; b;` → [a, b]. Empty items (a trailing separator) are ignored.
    private func items(_ text: String?) -> [Substring] {
        guard let text else { return [] }
        var result: [Substring] = []
        let utf8 = text.utf8
        var start = utf8.startIndex
        var index = start
        while true {
            let atEnd = index == utf8.endIndex
            if atEnd || utf8[index] == UInt8(ascii: ";") || utf8[index] == UInt8(ascii: ",") {
                let item = Self.trim(text[start..<index])
                if !item.isEmpty { result.append(item) }
                if atEnd { return result }
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
    }

    /// Digits with an optional sign: a whole number, also one too large for an Int, which
    /// `Int(_:)` refuses just as it refuses "x".
    static func isInteger(_ text: Substring) -> Bool {
        var digits = text.utf8[...]
        if let sign = digits.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") { digits = digits.dropFirst() }
        return !digits.isEmpty && digits.allSatisfy(CaseFieldRules.isDigit)
    }

    /// ASCII spaces, tabs and line breaks off both ends. Byte-wise, not Foundation's
    /// trimmingCharacters nor Character.isWhitespace: an import trims a million fields. (Other
    /// white space, such as a no-break space, stays and then fails validation visibly.)
    static func trim(_ text: Substring) -> Substring {
        func isSpace(_ byte: UInt8) -> Bool { byte == 32 || byte == 9 || byte == 10 || byte == 13 }
        let utf8 = text.utf8
        var start = utf8.startIndex
        var end = utf8.endIndex
        while start < end, isSpace(utf8[start]) { start = utf8.index(after: start) }
        while end > start, isSpace(utf8[utf8.index(before: end)]) { end = utf8.index(before: end) }
        return text[start..<end]
    }

    /// A list of codes, each checked, duplicates dropped (order kept: preferences are ranked).
    private func codes(_ text: String?, field: Field, rule: (String) -> String?,
                       _ problem: (Field, String) -> Void) -> [String] {
        var result: [String] = []
        for item in items(text) {
            let code = String(item)
            if let reason = rule(code) { problem(field, reason); continue }
            if !result.contains(code) { result.append(code) }
        }
        return result
    }
}

import Foundation
import Postgres

/// The JSON import format: an array of case objects as in placement-instance/1 (FORMAT.md),
/// plus `arrived` and the anvisning (`anvisning`, `latest_reception`, `category`):
///
///     [{"id": "MIG-2026-000123", "members": [{"age": 34}, {"age": 9}],
///       "needs": {"trauma_care": 1}, "language": "ar", "occupations": ["assistant_nurse"],
///       "family_ties": ["2480"], "preferences": ["2480"], "excluded": ["2284"],
///       "arrived": "2026-11-02", "anvisning": "2026-10-28", "latest_reception": "2027-01-28",
///       "category": "quota_refugee"}]
///
/// `ref` may stand for `id` and `ages: [34, 9]` for `members`. Without `arrived`, a
/// `waiting_days` (as in an instance) dates the arrival back from today; with neither, it is
/// today. Unknown keys are refused rather than ignored, and so is a key given twice: a misspelt
/// or repeated `excluded` must not let a household be placed where it must never go.
enum CaseImportJSON {
    static let keys: Set<String> = ["id", "ref", "members", "ages", "needs", "language", "occupations",
                                    "family_ties", "preferences", "excluded", "arrived", "waiting_days",
                                    "anvisning", "latest_reception", "category"]

    static func read(_ data: [UInt8], rules: CaseRules) -> CaseImport.Contents {
        var contents = CaseImport.Contents()
        let root: JSONTree
        do throws(JSONReader.SyntaxError) {
            root = try JSONReader.parse(data)
        } catch {
            contents.problems.append(problem(for: error))
            return contents
        }
        guard case .array(let elements) = root else {
            contents.problems.append(ValidationProblem(.file, field: "", reason: "the file must hold a JSON array of cases, not \(root.kind)"))
            return contents
        }
        contents.count = elements.count
        contents.entries.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            if let valid = validate(element, index: index, rules: rules, problems: &contents.problems) {
                contents.entries.append(CaseImport.Entry(location: .element(index), newCase: valid))
                contents.references.append((valid.reference, .element(index)))
            } else if case .object(let object) = element, case .string(let text)? = object["id"] ?? object["ref"] {
                let reference = text.trimmingCharacters(in: .whitespaces)
                if CaseFieldRules.reference(reference) == nil { contents.references.append((reference, .element(index))) }
            }
        }
        return contents
    }

    /// A key given twice in a case is reported at that case, like its other problems; any other
    /// error is the file's.
    static func problem(for error: JSONReader.SyntaxError) -> ValidationProblem {
        if error.duplicateKey != nil, case .index(let element)? = error.path.first, error.path.count > 1 {
            return ValidationProblem(.element(element), field: JSONReader.text(error.path.dropFirst()),
                reason: "is given twice; a key may appear once in an object (line \(error.line), column \(error.column))")
        }
        return ValidationProblem(.file, field: "", reason: "not valid JSON: \(error)")
    }

    /// A JSON number as a whole number, or why it is not one; each field checks its own range.
    enum WholeNumber {
        case whole(Int)
        /// Such as 9.5.
        case fraction(Double)
        /// Beyond every Int (1e20, or 1e400, which reads as infinity): out of any field's range.
        /// Never quoted in a problem: it may be someone's age, and `inf` would say nothing.
        case outOfRange
        /// A string, an array, ...: not a number at all.
        case notANumber

        init(_ value: JSONTree) {
            switch value {
            case .integer(let number): self = .whole(number)
            // The reader makes every whole number that fits an Int an .integer, so a whole
            // .number is one that does not fit.
            case .number(let number): self = number.isFinite && number.rounded() != number ? .fraction(number) : .outOfRange
            default: self = .notANumber
            }
        }
    }

    static func validate(_ element: JSONTree, index: Int, rules: CaseRules,
                         problems: inout [ValidationProblem]) -> NewCase? {
        let before = problems.count
        func problem(_ path: String, _ reason: String) {
            problems.append(ValidationProblem(.element(index), field: path, reason: reason))
        }
        guard case .object(let object) = element else {
            problem("", "expected a case object, found \(element.kind)")
            return nil
        }
        for key in object.keys.sorted() where !keys.contains(key) {
            problem(key, "unknown key (the keys are \(keys.sorted().joined(separator: ", ")))")
        }

        // Reference
        var reference = ""
        let referenceKey = object["id"] != nil ? "id" : "ref"
        if object["id"] != nil && object["ref"] != nil {
            problem("ref", "give id or ref, not both")
        }
        switch object[referenceKey] {
        case .string(let text)?:
            reference = text.trimmingCharacters(in: .whitespaces)
            if let reason = CaseFieldRules.reference(reference) { problem(referenceKey, reason) }
        case nil, .null?:
            problem("id", "is required")
        case let other?:
            problem(referenceKey, "expected a string, found \(other.kind)")
        }

        // Members
        var ages: [Int] = []
        func age(_ value: JSONTree, at path: String) {
            switch WholeNumber(value) {
            case .whole(let age):
                if let reason = CaseFieldRules.age(age) { problem(path, reason) } else { ages.append(age) }
            case .fraction(let number):
                problem(path, "\(number) is not a whole number of years")
            case .outOfRange:
                problem(path, ValidationProblem.mustBeBetween(CaseFieldRules.ageRange))
            case .notANumber:
                problem(path, "expected a whole number of years, found \(value.kind)")
            }
        }
        if object["members"] != nil && object["ages"] != nil {
            problem("ages", "give members or ages, not both")
        }
        switch (object["members"], object["ages"]) {
        case (.array(let members)?, _):
            for (position, member) in members.enumerated() {
                guard case .object(let fields) = member else {
                    problem("members[\(position)]", "expected {\"age\": ...}, found \(member.kind)")
                    continue
                }
                if let value = fields["age"] { age(value, at: "members[\(position)].age") }
                else { problem("members[\(position)].age", "is required") }
                for key in fields.keys.sorted() where key != "age" {
                    problem("members[\(position)].\(key)", "unknown key (a member has only age)")
                }
            }
            if let reason = CaseFieldRules.memberCount(members.count) { problem("members", reason) }
        case (nil, .array(let values)?):
            for (position, value) in values.enumerated() { age(value, at: "ages[\(position)]") }
            if let reason = CaseFieldRules.memberCount(values.count) { problem("ages", reason) }
        case (nil, nil), (.null?, _), (nil, .null?):
            problem("members", "is required (e.g. [{\"age\": 34}, {\"age\": 9}])")
        case (let members?, _):
            problem("members", "expected an array, found \(members.kind)")
        case (nil, let values?):
            problem("ages", "expected an array, found \(values.kind)")
        }

        // Needs
        var needs: [NewCase.Need] = []
        switch object["needs"] {
        case nil, .null?: break
        case .object(let fields)?:
            for (name, value) in fields.sorted(by: { $0.key < $1.key }) {
                let path = "needs.\(name)"
                if let reason = CaseFieldRules.needName(name, rules: rules) { problem(path, reason); continue }
                switch WholeNumber(value) {
                case .whole(let units):
                    if let reason = CaseFieldRules.units(units, of: name) { problem(path, reason); continue }
                    needs.append(NewCase.Need(dimension: name, units: units))
                case .fraction:
                    problem(path, "is not a whole number of units (a need has 1 to 1000)")
                case .outOfRange:
                    problem(path, ValidationProblem.mustBeBetween(CaseFieldRules.unitsRange))
                case .notANumber:
                    problem(path, "expected a whole number of units, found \(value.kind)")
                }
            }
        case let other?:
            problem("needs", "expected an object such as {\"trauma_care\": 1}, found \(other.kind)")
        }

        // Language
        var language: String?
        switch object["language"] {
        case nil, .null?: break
        case .string(let text)?:
            language = text
            if let reason = CaseFieldRules.language(text) { problem("language", reason) }
        case let other?:
            problem("language", "expected a string, found \(other.kind)")
        }

        func strings(_ key: String, rule: (String) -> String?) -> [String] {
            var result: [String] = []
            switch object[key] {
            case nil, .null?: break
            case .array(let items)?:
                for (position, item) in items.enumerated() {
                    guard case .string(let text) = item else {
                        problem("\(key)[\(position)]", "expected a string, found \(item.kind)")
                        continue
                    }
                    if let reason = rule(text) { problem("\(key)[\(position)]", reason) }
                    else if !result.contains(text) { result.append(text) }
                }
            case let other?:
                problem(key, "expected an array of strings, found \(other.kind)")
            }
            return result
        }
        let occupations = strings("occupations", rule: CaseFieldRules.occupation)
        let familyTies = strings("family_ties", rule: CaseFieldRules.municipalityCode)
        let preferences = strings("preferences", rule: CaseFieldRules.municipalityCode)
        let excluded = strings("excluded", rule: CaseFieldRules.municipalityCode)

        // Arrival: a date, or days of waiting counted back from today.
        var arrivedOn = rules.today
        func given(_ key: String) -> JSONTree? {
            if case .null? = object[key] { return nil }
            return object[key]
        }
        let arrived = given("arrived")
        let waitingDays = given("waiting_days")
        if arrived != nil && waitingDays != nil {
            problem("waiting_days", "give arrived or waiting_days, not both")
        }
        switch arrived {
        case nil: break
        case .string(let text)?:
            if let day = CaseFieldRules.day(text) {
                arrivedOn = day
                if let reason = CaseFieldRules.arrival(day, today: rules.today, beyond: rules.beyondToday) { problem("arrived", reason) }
            } else {
                problem("arrived", "\(CaseFieldRules.quoted(text)) is not a date (YYYY-MM-DD)")
            }
        case let other?:
            problem("arrived", "expected a date string (YYYY-MM-DD), found \(other.kind)")
        }
        if let waitingDays, arrived == nil {
            // Checked before any date arithmetic: 800000 days back is before year 1, which no
            // calendar day holds, and a larger one overflows the time_t that CalendarDay converts to.
            let longest = max(0, CaseFieldRules.earliestArrival.days(until: rules.today))
            let range = 0...longest
            switch WholeNumber(waitingDays) {
            case .whole(let days) where range.contains(days):
                arrivedOn = rules.today.adding(days: -days) ?? CaseFieldRules.earliestArrival
                if let reason = CaseFieldRules.arrival(arrivedOn, today: rules.today, beyond: rules.beyondToday) { problem("waiting_days", reason) }
            case .whole, .outOfRange:
                problem("waiting_days", "\(ValidationProblem.mustBeBetween(range)) (an arrival from 1990-01-01 to today)")
            case .fraction:
                problem("waiting_days", "is not a whole number of days")
            case .notANumber:
                problem("waiting_days", "expected a whole number of days, found \(waitingDays.kind)")
            }
        }

        // The anvisning: its date (else the arrival's), its latest reception date (else the
        // database's two months), its category.
        func date(_ key: String) -> CalendarDay? {
            switch given(key) {
            case nil: return nil
            case .string(let text)?:
                if let day = CaseFieldRules.day(text) { return day }
                problem(key, "\(CaseFieldRules.quoted(text)) is not a date (YYYY-MM-DD)")
            case let other?:
                problem(key, "expected a date string (YYYY-MM-DD), found \(other.kind)")
            }
            return nil
        }
        let anvisningOn = date("anvisning")
        if let anvisningOn, let reason = CaseFieldRules.anvisning(anvisningOn, today: rules.today, beyond: rules.beyondToday) { problem("anvisning", reason) }
        let latestReceptionOn = date("latest_reception")
        var category = CaseCategory.agencyAccommodation
        switch given("category") {
        case nil: break
        case .string(let text)?:
            switch CaseFieldRules.category(text) {
            case .success(let value): category = value
            case .failure(let failure): problem("category", failure.reason)
            }
        case let other?:
            problem("category", "expected a category string, found \(other.kind)")
        }

        guard problems.count == before else { return nil }
        let result = NewCase(reference: reference, ages: ages, needs: needs, language: language,
                             occupations: occupations, familyTies: familyTies, preferences: preferences,
                             excluded: excluded, arrivedOn: arrivedOn, anvisningOn: anvisningOn,
                             latestReceptionOn: latestReceptionOn, category: category)
        if let (field, reason) = CaseFieldRules.consistency(result) {
            problem(field, reason)
            return nil
        }
        return result
    }
}

/// Reasons for the officer who signs: why each household goes where it goes, what the runner-up
/// was, and for each unplaced household the capacity that ran out. Wording is plain English and
/// computed from the final placement (capacity left after everyone else was placed).
///
/// With a look-ahead (`kept`, from ``LookAhead``), `problem` and `state` hold the current cases
/// only, so capacity left in `state` is capacity the joint solve keeps for expected arrivals:
/// a household that would fit there, or that the solve without the forecast places, is told so.
enum Explanation {
    static func assignments(_ instance: PlacementInstance, _ problem: Problem, _ state: State,
                            kept: LookAhead.Kept? = nil) -> ([PlacementResult.Assignment], [PlacementResult.Unplaced]) {
        var assignments: [PlacementResult.Assignment] = []
        var unplaced: [PlacementResult.Unplaced] = []
        assignments.reserveCapacity(problem.caseCount)
        for c in 0..<problem.caseCount {
            let household = instance.cases[c]
            let p = state.pairOf[c]
            if p < 0 {
                let reason = kept.flatMap { keptFor(c, instance, problem, state, $0) } ?? whyUnplaced(c, instance, problem, state)
                unplaced.append(.init(caseID: household.id, reason: reason))
                continue
            }
            let m = Int(problem.pairMuni[p])
            let muni = instance.municipalities[m]
            assignments.append(.init(caseID: household.id, municipality: muni.code, score: problem.pairScore[p],
                                     reasons: reasons(household, muni, instance.weights),
                                     nextBest: nextBest(c, p, instance, problem, state, lookingAhead: kept != nil)))
        }
        return (assignments, unplaced)
    }

    static func label(_ m: PlacementInstance.Municipality) -> String {
        m.name == m.code ? m.code : "\(m.name) (\(m.code))"
    }

    /// The score terms that apply, in words.
    static func reasons(_ c: PlacementInstance.Case, _ m: PlacementInstance.Municipality, _ w: PlacementInstance.Weights) -> [String] {
        var out: [String] = []
        if w.familyTies != 0 && c.familyTies.contains(m.code) { out.append("family ties in \(label(m))") }
        if w.language != 0, let language = c.language, m.languages.contains(language) {
            out.append("speaks \(language), offered in \(m.name)")
        }
        if w.occupation != 0 {
            let shared = c.occupations.filter { m.shortageOccupations.contains($0) }
            var seen = Set<String>()
            for o in shared where seen.insert(o).inserted { out.append("shortage occupation \(o.replacingUnderscores)") }
        }
        if w.preference != 0 && c.preferences.contains(m.code) { out.append("preferred") }
        if out.isEmpty { out.append("room for the household") }
        if w.waitingDay != 0 && c.waitingDays > 0 { out.append("waited \(c.waitingDays) days") }
        return out
    }

    static func nextBest(_ c: Int, _ p: Int, _ instance: PlacementInstance, _ problem: Problem, _ state: State,
                         lookingAhead: Bool = false) -> PlacementResult.NextBest? {
        let t = Int(problem.caseType[c])
        let m0 = Int(problem.pairMuni[p])
        var best = -1, bestFits = false
        for q in problem.pairStart[c]..<problem.pairStart[c + 1] where q != p {
            let m = Int(problem.pairMuni[q])
            let fits = state.fits(type: t, in: m)
            if best < 0 || problem.pairScore[q] > problem.pairScore[best] || (problem.pairScore[q] == problem.pairScore[best] && fits && !bestFits) {
                best = q
                bestFits = fits
            }
        }
        guard best >= 0 else { return nil }
        let m = Int(problem.pairMuni[best])
        let muni = instance.municipalities[m]
        let difference = problem.pairScore[p] - problem.pairScore[best]
        var reason: String?
        if difference < 0 {
            let short = shortDimensions(t, m, problem, state)
            if short.isEmpty && lookingAhead {
                reason = "its room there is kept for expected arrivals who need it more"
            } else if short.isEmpty {
                reason = "moving there would cost other households more than it gains"
            } else {
                reason = "no " + short.map { problem.dimNames[$0].replacingUnderscores }.joined(separator: " or ")
                    + " left in \(label(muni)) after other placements"
            }
        }
        _ = m0
        return .init(municipality: muni.code, name: muni.name, score: problem.pairScore[best],
                     scoreDifference: difference, reason: reason)
    }

    /// Dimensions where type t does not fit in m with the capacity left.
    static func shortDimensions(_ t: Int, _ m: Int, _ problem: Problem, _ state: State) -> [Int] {
        let K = problem.dimCount
        var out: [Int] = []
        for i in Int(problem.typeDimStart[t])..<Int(problem.typeDimStart[t + 1]) {
            let d = Int(problem.typeDims[i])
            if problem.typeAmounts[i] > state.remaining[m * K + d] { out.append(d) }
        }
        return out
    }

    /// Why current case c waits because of the look-ahead, or nil when the look-ahead is not the
    /// reason: it would fit with the capacity left after the current placements (so the joint
    /// solve keeps that capacity for the forecast), or the solve without the forecast places it.
    static func keptFor(_ c: Int, _ instance: PlacementInstance, _ problem: Problem, _ state: State, _ kept: LookAhead.Kept) -> String? {
        let t = Int(problem.caseType[c])
        var fit = -1
        var others = 0
        for p in problem.pairStart[c]..<problem.pairStart[c + 1] where state.fits(type: t, in: Int(problem.pairMuni[p])) {
            if fit < 0 || problem.pairScore[p] > problem.pairScore[fit] { fit = p }
            others += 1
        }
        let prefix = "capacity kept for expected arrivals who need it more"
        if fit >= 0 {
            let m = Int(problem.pairMuni[fit])
            let place = label(instance.municipalities[m]) + (others > 1 ? " and \(others - 1) more" : "")
            let expected = kept.forecastPlaced[m]
            return "\(prefix) (there is room for it now in \(place); the look-ahead expects "
                + (expected == 1 ? "1 later household" : "\(expected) later households") + " in \(label(instance.municipalities[m])))"
        }
        let m = kept.withoutForecast[c]
        if m >= 0 {
            return "\(prefix) (without the forecast it would go to \(label(instance.municipalities[m])), "
                + "whose room now goes to households that leave more for later arrivals)"
        }
        return nil
    }

    static func whyUnplaced(_ c: Int, _ instance: PlacementInstance, _ problem: Problem, _ state: State) -> String {
        let household = instance.cases[c]
        let M = problem.muniCount, K = problem.dimCount
        if M == 0 { return "there are no municipalities in this run" }
        let excluded = Set(household.excluded)
        let allowed = (0..<M).filter { !excluded.contains(instance.municipalities[$0].code) }
        if allowed.isEmpty { return "excluded from every municipality" }
        let t = Int(problem.caseType[c])
        let size = household.members.count
        let dims = (Int(problem.typeDimStart[t])..<Int(problem.typeDimStart[t + 1])).map { (Int(problem.typeDims[$0]), problem.typeAmounts[$0]) }
        let hasPairs = problem.pairStart[c + 1] > problem.pairStart[c]

        // Which of the case's dimensions fall short, and where: against the whole capacity when it
        // could never go anywhere, else against what is left now.
        let candidates: [Int]
        if hasPairs {
            candidates = (problem.pairStart[c]..<problem.pairStart[c + 1]).map { Int(problem.pairMuni[$0]) }
        } else {
            candidates = allowed.filter { m in dims.contains { problem.capacity[m * K + $0.0] < $0.1 } }
            if candidates.count < allowed.count {
                return "placing it would not score above 0 with these weights"
            }
        }
        var shortCount = [Int](repeating: 0, count: K)
        for m in candidates {
            for (d, amount) in dims {
                let left = hasPairs ? state.remaining[m * K + d] : problem.capacity[m * K + d]
                if left < amount { shortCount[d] += 1 }
            }
        }
        if let (d, amount) = dims.first(where: { shortCount[$0.0] == candidates.count }) {
            return shortage(problem.dimNames[d], amount: amount, size: size, left: hasPairs, restricted: !excluded.isEmpty)
        }
        if !hasPairs {
            return "no municipality it may go to has room for the whole household"
        }
        let parts = dims.filter { shortCount[$0.0] > 0 }
            .sorted { shortCount[$0.0] > shortCount[$1.0] }
            .map { "\(problem.dimNames[$0.0].replacingUnderscores) in \(shortCount[$0.0])" }
        return "every municipality it could go to is full after placing households with higher scores (short of "
            + parts.joined(separator: ", ") + ")"
    }

    /// One dimension ran out (or never existed) everywhere the case could go.
    static func shortage(_ dim: String, amount: Int, size: Int, left: Bool, restricted: Bool) -> String {
        let anywhere = restricted ? "any municipality it may go to" : "any municipality"
        let nowhere = restricted ? "no municipality it may go to" : "no municipality"
        func places(_ what: String) -> String { amount == 1 ? "a \(what) place" : "\(amount) \(what) places" }
        switch dim {
        case "persons":
            let room = amount == 1 ? "1 person" : "\(amount) persons"
            return left ? "no room left for \(room) in \(anywhere)" : "\(nowhere) has room for \(room)"
        case "dwellings":
            return left ? "no dwelling left in \(anywhere)" : "\(nowhere) has a free dwelling"
        case "large_dwellings":
            return "a household of \(size) needs a large dwelling: " + (left ? "none left" : "\(nowhere) has one")
        case "school_places", "preschool_places":
            let what = dim == "school_places" ? "school" : "preschool"
            return "needs \(places(what)): " + (left ? "none left in \(anywhere)" : "\(nowhere) has them")
        default:
            let name = dim.replacingUnderscores
            if left { return restricted ? "no municipality it may go to has \(name) capacity left" : "no municipality with \(name) capacity left" }
            return "\(nowhere) has \(name) capacity"
        }
    }
}

extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}

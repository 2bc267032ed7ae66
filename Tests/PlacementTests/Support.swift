import Foundation
@testable import Placement

/// A re-computation of FORMAT.md (score, feasibility) written from the format and not from the
/// engine, to check results against. Demand is the one Swift definition (``Demand``), pinned by
/// the examples of `DemandTests` and compared with the database's in ReceptionKitTests.
enum Reference {
    static func demand(_ c: PlacementInstance.Case) -> [String: Int] { Demand.of(c) }

    static func score(_ c: PlacementInstance.Case, _ m: PlacementInstance.Municipality, _ w: PlacementInstance.Weights) -> Int {
        var s = w.placed + w.placedPerson * c.members.count + w.waitingDay * c.waitingDays
        if c.familyTies.contains(m.code) { s += w.familyTies }
        if let l = c.language, m.languages.contains(l) { s += w.language }
        if !Set(c.occupations).isDisjoint(with: m.shortageOccupations) { s += w.occupation }
        if c.preferences.contains(m.code) { s += w.preference }
        return s
    }

    /// Problems with a result, empty when it is feasible and honest.
    static func problems(_ instance: PlacementInstance, _ result: PlacementResult) -> [String] {
        var out: [String] = []
        let munis = Dictionary(instance.municipalities.map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        let cases = Dictionary(instance.cases.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var seen = Set<String>()
        var used: [String: [String: Int]] = [:]
        var total = 0
        for a in result.assignments {
            guard let c = cases[a.caseID], let m = munis[a.municipality] else { out.append("unknown \(a.caseID) or \(a.municipality)"); continue }
            if !seen.insert(a.caseID).inserted { out.append("\(a.caseID) twice") }
            if c.excluded.contains(m.code) { out.append("\(a.caseID) in excluded \(m.code)") }
            for (k, v) in demand(c) { used[m.code, default: [:]][k, default: 0] += v }
            let s = score(c, m, instance.weights)
            if s != a.score { out.append("\(a.caseID) score \(a.score) != \(s)") }
            total += s
            if a.reasons.isEmpty { out.append("\(a.caseID) has no reasons") }
        }
        for u in result.unplaced {
            if cases[u.caseID] == nil { out.append("unknown unplaced \(u.caseID)") }
            if !seen.insert(u.caseID).inserted { out.append("\(u.caseID) twice") }
            if u.reason.isEmpty { out.append("\(u.caseID) has no reason") }
        }
        if seen.count != instance.cases.count { out.append("\(instance.cases.count - seen.count) cases missing") }
        for (code, dims) in used {
            for (k, v) in dims where v > (munis[code]!.capacity[k] ?? 0) { out.append("\(code) \(k) \(v) > capacity") }
        }
        if total != result.objective { out.append("objective \(result.objective) != \(total)") }
        if result.bound < result.objective { out.append("bound \(result.bound) < objective \(result.objective)") }
        return out
    }

    /// The best objective by trying every assignment ((M + 1)^C of them: tiny instances only).
    static func bruteForce(_ instance: PlacementInstance) -> Int {
        let C = instance.cases.count, M = instance.municipalities.count
        let demands = instance.cases.map(demand)
        let scores = instance.cases.map { c in instance.municipalities.map { m in score(c, m, instance.weights) } }
        var used = [[String: Int]](repeating: [:], count: M)
        var best = 0
        func go(_ i: Int, _ value: Int) {
            if i == C { best = max(best, value); return }
            go(i + 1, value)
            let c = instance.cases[i]
            for m in 0..<M where !c.excluded.contains(instance.municipalities[m].code) {
                let cap = instance.municipalities[m].capacity
                if demands[i].allSatisfy({ used[m][$0.key, default: 0] + $0.value <= cap[$0.key] ?? 0 }) {
                    for (k, v) in demands[i] { used[m][k, default: 0] += v }
                    go(i + 1, value + scores[i][m])
                    for (k, v) in demands[i] { used[m][k, default: 0] -= v }
                }
            }
        }
        go(0, 0)
        return best
    }

    /// A small random instance with tight capacity, ties, exclusions and needs.
    static func random(_ seed: UInt64, cases: Int, municipalities: Int) -> PlacementInstance {
        var rng = SplitMix64(seed: seed)
        let languages = ["ar", "so", "ti", "uk"]
        let occupations = ["nurse", "welder", "teacher"]
        let munis = (0..<municipalities).map { i in
            PlacementInstance.Municipality(
                code: "M\(i)", name: ["Umeå", "Malmö", "Göteborg", "Örebro", "Kiruna"][i % 5] + (i < 5 ? "" : " \(i)"),
                capacity: ["persons": rng.below(8), "dwellings": rng.below(4), "large_dwellings": rng.below(2),
                           "school_places": rng.below(4), "preschool_places": rng.below(3), "trauma_care": rng.below(2)],
                languages: languages.filter { _ in rng.chance(0.5) },
                shortageOccupations: occupations.filter { _ in rng.chance(0.4) })
        }
        let list = (0..<cases).map { i in
            let size = 1 + rng.below(rng.chance(0.3) ? 6 : 3)
            return PlacementInstance.Case(
                id: "C\(i)", ages: (0..<size).map { _ in rng.below(70) },
                needs: rng.chance(0.2) ? ["trauma_care": 1] : [:],
                language: languages[rng.below(languages.count)],
                occupations: rng.chance(0.4) ? [occupations[rng.below(3)]] : [],
                familyTies: rng.chance(0.3) && municipalities > 0 ? ["M\(rng.below(municipalities))"] : [],
                preferences: rng.chance(0.3) && municipalities > 0 ? ["M\(rng.below(municipalities))"] : [],
                excluded: rng.chance(0.15) && municipalities > 0 ? ["M\(rng.below(municipalities))"] : [],
                waitingDays: rng.below(300))
        }
        return PlacementInstance(weights: .standard, municipalities: munis, cases: list)
    }

    static var examplesDirectory: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("shared/placement/examples")
    }
}

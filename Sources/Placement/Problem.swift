/// The instance compiled into flat arrays for the solver (struct-of-arrays, no dictionaries after
/// construction):
///
/// - dimensions are numbered: the five standard ones first, then every other capacity or need
///   name in sorted order;
/// - each case has a demand vector (FORMAT.md "Demand of a case"); equal vectors share a *type*,
///   so that per-iteration work can be done per type rather than per case;
/// - each case lists its *pairs*: the municipalities it may go to (not excluded, every dimension
///   of its demand within the municipality's capacity, positive score), sorted by municipality,
///   with the full score of that placement. Everything else is impossible or worthless and is
///   never looked at again.
struct Problem {
    /// The five computed dimensions come first, numbered 0–4 (``Demand/computedDimensions``).
    static let standardDimensions = Demand.computedDimensions

    let caseCount: Int
    let muniCount: Int
    let dimCount: Int
    let dimNames: [String]

    /// capacity[m * dimCount + d]
    let capacity: [Int]

    /// Demand types: typeDemand[t * dimCount + d]; the non-zero entries of type t are
    /// typeDims[typeDimStart[t] ..< typeDimStart[t + 1]] with amounts typeAmounts[...].
    let typeCount: Int
    let typeDemand: [Int]
    let typeDimStart: [Int32]
    let typeDims: [Int32]
    let typeAmounts: [Int]
    /// caseType[c]
    let caseType: [Int32]

    /// Score of a case wherever it goes: placed + placed_person × members + waiting_day ×
    /// waiting_days (less its `discount`, see ``init(_:discount:)``).
    let base: [Int]
    /// Pairs of case c: pairStart[c] ..< pairStart[c + 1].
    let pairStart: [Int]
    let pairMuni: [Int32]
    let pairScore: [Int]

    /// `discount[c]`, when given, is taken off every score of case c (the look-ahead's lower
    /// value of a household that is only expected: ``LookAhead``); a pair that is then worth 0 or
    /// less is dropped like any worthless one. A negative discount is a premium (current cases
    /// that come first, ``Solver/currentFirst``): it keeps exactly the pairs FORMAT.md keeps, so
    /// that a placement carries over. Without it, scores are those of FORMAT.md.
    init(_ instance: PlacementInstance, discount: [Int] = []) {
        let w = instance.weights
        caseCount = instance.cases.count
        muniCount = instance.municipalities.count

        // Dimensions.
        var extra = Set<String>()
        for m in instance.municipalities { extra.formUnion(m.capacity.keys) }
        for c in instance.cases { extra.formUnion(c.needs.keys) }
        extra.subtract(Problem.standardDimensions)
        dimNames = Problem.standardDimensions + extra.sorted()
        let K = dimNames.count
        dimCount = K
        var dimIndex: [String: Int] = [:]
        for (i, name) in dimNames.enumerated() { dimIndex[name] = i }

        var capacity = [Int](repeating: 0, count: muniCount * K)
        var muniIndex: [String: Int32] = [:]
        for (m, muni) in instance.municipalities.enumerated() {
            for (name, value) in muni.capacity { capacity[m * K + dimIndex[name]!] = max(0, value) }
            if muniIndex[muni.code] == nil { muniIndex[muni.code] = Int32(m) }
        }
        self.capacity = capacity

        // Per-municipality bit sets of languages and shortage occupations.
        var languageIndex: [String: Int] = [:]
        var occupationIndex: [String: Int] = [:]
        for muni in instance.municipalities {
            for l in muni.languages where languageIndex[l] == nil { languageIndex[l] = languageIndex.count }
            for o in muni.shortageOccupations where occupationIndex[o] == nil { occupationIndex[o] = occupationIndex.count }
        }
        let languageWords = (languageIndex.count + 63) / 64
        let occupationWords = (occupationIndex.count + 63) / 64
        var muniLanguages = [UInt64](repeating: 0, count: max(1, muniCount * languageWords))
        var muniOccupations = [UInt64](repeating: 0, count: max(1, muniCount * occupationWords))
        for (m, muni) in instance.municipalities.enumerated() {
            for l in muni.languages { let i = languageIndex[l]!; muniLanguages[m * languageWords + i / 64] |= 1 << UInt64(i % 64) }
            for o in muni.shortageOccupations { let i = occupationIndex[o]!; muniOccupations[m * occupationWords + i / 64] |= 1 << UInt64(i % 64) }
        }

        // Demand types.
        var typeOf: [[Int]: Int32] = [:]
        var typeDemand: [Int] = []
        var caseType = [Int32](repeating: 0, count: caseCount)
        var vector = [Int](repeating: 0, count: K)
        for (c, household) in instance.cases.enumerated() {
            Problem.demand(of: household, dimIndex: dimIndex, into: &vector)
            if let t = typeOf[vector] {
                caseType[c] = t
            } else {
                let t = Int32(typeOf.count)
                typeOf[vector] = t
                typeDemand += vector
                caseType[c] = t
            }
        }
        typeCount = typeOf.count
        self.typeDemand = typeDemand
        self.caseType = caseType
        var typeDimStart: [Int32] = [0]
        var typeDims: [Int32] = []
        var typeAmounts: [Int] = []
        for t in 0..<typeCount {
            for d in 0..<K where typeDemand[t * K + d] != 0 {
                typeDims.append(Int32(d))
                typeAmounts.append(typeDemand[t * K + d])
            }
            typeDimStart.append(Int32(typeDims.count))
        }
        self.typeDimStart = typeDimStart
        self.typeDims = typeDims
        self.typeAmounts = typeAmounts

        // Which municipalities can hold each type at all (every demanded dimension within capacity).
        var typeFits = [Bool](repeating: false, count: typeCount * muniCount)
        for t in 0..<typeCount {
            let lo = Int(typeDimStart[t]), hi = Int(typeDimStart[t + 1])
            for m in 0..<muniCount {
                var fits = true
                for i in lo..<hi where typeAmounts[i] > capacity[m * K + Int(typeDims[i])] { fits = false; break }
                typeFits[t * muniCount + m] = fits
            }
        }

        // Pairs.
        var base = [Int](repeating: 0, count: caseCount)
        var pairStart = [Int](repeating: 0, count: caseCount + 1)
        var pairMuni: [Int32] = []
        var pairScore: [Int] = []
        var bonus = [Int](repeating: 0, count: muniCount)
        var allowed = [Bool](repeating: true, count: muniCount)
        var occupationBits = [UInt64](repeating: 0, count: max(1, occupationWords))
        for (c, household) in instance.cases.enumerated() {
            let b = w.base(of: household) - (discount.isEmpty ? 0 : discount[c])
            let premium = discount.isEmpty ? 0 : max(0, -discount[c])
            base[c] = b
            for m in 0..<muniCount { bonus[m] = 0; allowed[m] = true }
            for code in household.excluded { if let m = muniIndex[code] { allowed[Int(m)] = false } }
            for code in Set(household.familyTies) { if let m = muniIndex[code] { bonus[Int(m)] += w.familyTies } }
            for code in Set(household.preferences) { if let m = muniIndex[code] { bonus[Int(m)] += w.preference } }
            let language = household.language.flatMap { languageIndex[$0] }
            for i in 0..<occupationBits.count { occupationBits[i] = 0 }
            var hasOccupation = false
            for o in household.occupations {
                if let i = occupationIndex[o] { occupationBits[i / 64] |= 1 << UInt64(i % 64); hasOccupation = true }
            }
            let t = Int(caseType[c])
            for m in 0..<muniCount where allowed[m] && typeFits[t * muniCount + m] {
                var score = b + bonus[m]
                if let l = language, muniLanguages[m * languageWords + l / 64] & (1 << UInt64(l % 64)) != 0 {
                    score += w.language
                }
                if hasOccupation {
                    for i in 0..<occupationWords where muniOccupations[m * occupationWords + i] & occupationBits[i] != 0 {
                        score += w.occupation
                        break
                    }
                }
                if score - premium > 0 {
                    pairMuni.append(Int32(m))
                    pairScore.append(score)
                }
            }
            pairStart[c + 1] = pairMuni.count
        }
        self.base = base
        self.pairStart = pairStart
        self.pairMuni = pairMuni
        self.pairScore = pairScore
    }

    /// FORMAT.md demand of a household (``Demand``), written into `vector` (indexed by dimension).
    static func demand(of household: PlacementInstance.Case, dimIndex: [String: Int], into vector: inout [Int]) {
        for d in 0..<vector.count { vector[d] = 0 }
        for (d, units) in Demand.computed(ages: household.members.lazy.map(\.age)).enumerated() { vector[d] = units }
        for (name, amount) in household.needs { vector[dimIndex[name]!] += amount }
    }

    /// The pair index of (c, m), or -1 if the case cannot go there.
    @inline(__always)
    func pair(_ c: Int, _ m: Int32) -> Int {
        var lo = pairStart[c], hi = pairStart[c + 1]
        while lo < hi {
            let mid = (lo + hi) >> 1
            let v = pairMuni[mid]
            if v == m { return mid }
            if v < m { lo = mid + 1 } else { hi = mid }
        }
        return -1
    }
}

/// Realistic synthetic instances for benchmarks and tests. Deterministic: the same kind, case
/// count and seed give the same instance on every platform (SplitMix64, no system randomness).
///
/// - `.region`: one county, 7 to 12 municipalities, one large town and small rural ones.
/// - `.national`: 290 municipalities with town sizes following a Zipf law.
///
/// Households: half are single adults, the rest couples and families of up to 8 with children of
/// all ages; main languages, occupations, family ties (mostly to large towns), wishes, a few
/// exclusions, and specialised needs (trauma care, accessible dwellings, dialysis, sign-language
/// interpreting). Capacity is roughly what the batch needs, tighter in some dimensions than others,
/// and the scarce specialised capacity sits partly in small municipalities.
public enum InstanceGenerator {
    public enum Kind: String, Sendable, CaseIterable {
        case region
        case national
    }

    static let languages: [(String, Double)] = [("ar", 0.30), ("so", 0.15), ("ti", 0.13), ("prs", 0.10), ("fa", 0.08),
                                                ("uk", 0.08), ("ku", 0.08), ("en", 0.05), ("ru", 0.03)]
    static let occupations = ["assistant_nurse", "nurse", "physician", "teacher", "engineer", "software_developer",
                              "welder", "electrician", "plumber", "carpenter", "mechanic", "driver", "cook", "baker",
                              "cleaner", "care_worker", "farm_worker", "tailor", "hairdresser", "accountant"]
    static let named: [(String, String)] = [
        ("0180", "Stockholm"), ("1480", "Göteborg"), ("1280", "Malmö"), ("0380", "Uppsala"), ("0580", "Linköping"),
        ("1880", "Örebro"), ("1980", "Västerås"), ("1283", "Helsingborg"), ("0581", "Norrköping"), ("0680", "Jönköping"),
        ("2480", "Umeå"), ("1281", "Lund"), ("1490", "Borås"), ("0126", "Huddinge"), ("0484", "Eskilstuna"),
        ("2180", "Gävle"), ("0181", "Södertälje"), ("2281", "Sundsvall"), ("1780", "Karlstad"), ("0780", "Växjö"),
        ("1380", "Halmstad"), ("2580", "Luleå"), ("1488", "Trollhättan"), ("2380", "Östersund"), ("2081", "Borlänge"),
        ("2080", "Falun"), ("0880", "Kalmar"), ("1290", "Kristianstad"), ("1496", "Skövde"), ("2284", "Örnsköldsvik"),
        ("2321", "Åre"), ("2518", "Övertorneå"), ("2039", "Älvdalen"), ("2361", "Härjedalen"), ("2584", "Kiruna"),
    ]
    static let county: [(String, String)] = [
        ("2480", "Umeå"), ("2482", "Skellefteå"), ("2481", "Lycksele"), ("2460", "Vännäs"), ("2401", "Nordmaling"),
        ("2409", "Robertsfors"), ("2404", "Vindeln"), ("2403", "Bjurholm"), ("2462", "Vilhelmina"), ("2421", "Storuman"),
        ("2418", "Malå"), ("2463", "Åsele"),
    ]
    static let counties = ["01", "03", "04", "05", "06", "07", "08", "09", "10", "12", "13", "14", "17", "18", "19",
                           "20", "21", "22", "23", "24", "25"]

    /// Where a generated instance's households come from: its municipalities and their relative
    /// sizes (family ties and wishes go to big towns more often). With it,
    /// ``households(_:seed:layout:idPrefix:)`` draws more households of the same region.
    public struct Layout: Sendable, Equatable {
        /// Municipality codes, in the instance's order.
        public let codes: [String]
        /// Running sums of the municipalities' shares of the population.
        let cumulative: [Double]
    }

    /// A generated instance with the standard weights.
    public static func generate(kind: Kind, cases caseCount: Int, seed: UInt64) -> PlacementInstance {
        generateWithLayout(kind: kind, cases: caseCount, seed: seed).instance
    }

    /// A municipality of a region named by the caller, with its relative size (its share of the
    /// region's arrivals, capacity, family ties and wishes).
    public struct Member: Sendable {
        public let code: String
        public let name: String
        public let size: Double
        public init(code: String, name: String, size: Double) {
            self.code = code
            self.name = name
            self.size = size
        }
    }

    /// A generated instance and its layout, to draw a forecast of the same region from. With
    /// `members`, a `.region` has those municipalities rather than some of Västerbotten's.
    public static func generateWithLayout(kind: Kind, cases caseCount: Int, seed: UInt64, members: [Member]? = nil)
        -> (instance: PlacementInstance, layout: Layout) {
        var rng = SplitMix64(seed: seed &* 0x2545_F491_4F6C_DD1D &+ (kind == .region ? 1 : 2))
        let households = (0..<max(0, caseCount)).map { household(index: $0, seed: seed, rng: &rng) }

        // Municipalities and their relative size.
        var codes: [(String, String)] = []
        var size: [Double] = []
        switch kind {
        case .region where members != nil && !members!.isEmpty:
            codes = members!.map { ($0.code, $0.name) }
            size = members!.map { max(0.01, $0.size) }
        case .region:
            let count = 7 + rng.below(6)
            codes = Array(county.prefix(count))
            size = (0..<count).map { $0 == 0 ? 10.0 : 0.4 + 1.6 * rng.unit() }
        case .national:
            var used = Set(named.map { $0.0 })
            codes = named
            var serial = 1
            while codes.count < 290 {
                let code = counties[serial % counties.count] + String(10 + serial / counties.count)
                serial += 1
                if used.insert(code).inserted { codes.append((code, "Kommun \(String(codes.count + 1).leftPadded(3))")) }
            }
            size = (0..<290).map { 1.0 / pow09(Double($0 + 1)) * (0.7 + 0.6 * rng.unit()) }
        }
        let M = codes.count
        let total = size.reduce(0, +)
        let share = size.map { $0 / total }

        // What the batch needs in total.
        var need: [String: Int] = [:]
        for h in households {
            for (k, v) in Demand.of(h) { need[k, default: 0] += v }
        }
        var capacity = [[String: Int]](repeating: [:], count: M)
        func spread(_ dim: String, _ factor: Double, among weights: [Double]) {
            let amount = Int((Double(need[dim] ?? 0) * factor).rounded())
            let sum = weights.reduce(0, +)
            guard amount > 0, sum > 0 else { return }
            // Largest remainder over noisy weights, then at least one unit where weight is positive.
            var given = 0
            var rest: [(Double, Int)] = []
            for m in 0..<M where weights[m] > 0 {
                let exact = Double(amount) * weights[m] / sum
                let whole = Int(exact)
                capacity[m][dim] = whole
                given += whole
                rest.append((exact - Double(whole), m))
            }
            rest.sort { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }
            for i in 0..<(amount - given) { capacity[rest[i % rest.count].1][dim, default: 0] += 1 }
        }
        // What each municipality offers this period: its size times a willingness that varies,
        // and within a municipality the dimensions go together (housing, schools and preschools
        // are planned for the same arrivals), each with some noise of its own.
        let offer = share.map { $0 * (0.6 + 0.8 * rng.unit()) }
        let noisy = { (rng: inout SplitMix64) in offer.map { $0 * (0.8 + 0.4 * rng.unit()) } }
        spread("persons", 0.85 + 0.25 * rng.unit(), among: noisy(&rng))
        spread("dwellings", 1.0 + 0.4 * rng.unit(), among: noisy(&rng))
        spread("large_dwellings", 0.8 + 0.5 * rng.unit(), among: noisy(&rng))
        spread("school_places", 0.9 + 0.4 * rng.unit(), among: noisy(&rng))
        spread("preschool_places", 0.8 + 0.5 * rng.unit(), among: noisy(&rng))
        // Specialised capacity: in some municipalities only, small ones included.
        for (dim, reach, factor) in [("trauma_care", 0.6, 1.0), ("accessible_dwellings", 0.5, 1.1),
                                     ("dialysis", 0.15, 0.9), ("interpreter_sign", 0.1, 1.0)] {
            var weights = [Double](repeating: 0, count: M)
            for m in 0..<M where m == 0 || rng.chance(reach) { weights[m] = m < M / 10 ? share[m] : max(share[m], 0.5 / Double(M)) }
            spread(dim, factor * (0.8 + 0.4 * rng.unit()), among: weights)
        }

        let municipalities = (0..<M).map { m -> PlacementInstance.Municipality in
            let large = share[m] > 2.0 / Double(M)
            var langs: [String] = []
            for (l, p) in languages where large || rng.chance(0.35 + p) { langs.append(l) }
            var occ: [String] = []
            for o in occupations where rng.chance(0.15) { occ.append(o) }
            return .init(code: codes[m].0, name: codes[m].1, capacity: capacity[m].filter { $0.value > 0 },
                         languages: langs, shortageOccupations: occ)
        }

        // Ties, wishes and exclusions refer to municipalities, big towns more often.
        var cumulative: [Double] = []
        var acc = 0.0
        for s in share { acc += s; cumulative.append(acc) }
        let layout = Layout(codes: codes.map(\.0), cumulative: cumulative)
        let cases = households.map { h -> PlacementInstance.Case in
            var h = h
            attach(&h, layout: layout, rng: &rng)
            return h
        }
        return (PlacementInstance(weights: .standard, municipalities: municipalities, cases: cases), layout)
    }

    /// `count` more households of the region of `layout`, drawn as ``generate(kind:cases:seed:)``
    /// draws its own but from a generator of their own: an independent sample of the same
    /// population (a forecast). Ids are `idPrefix` and a serial number.
    public static func households(_ count: Int, seed: UInt64, layout: Layout, idPrefix: String) -> [PlacementInstance.Case] {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ 3)
        var out = (0..<max(0, count)).map { household(index: $0, seed: seed, rng: &rng) }
        for i in out.indices {
            out[i].id = idPrefix + String(i + 1).leftPadded(6)
            attach(&out[i], layout: layout, rng: &rng)
        }
        return out
    }

    /// Family ties, wishes and exclusions of one household.
    private static func attach(_ h: inout PlacementInstance.Case, layout: Layout, rng: inout SplitMix64) {
        let M = layout.codes.count
        guard M > 0 else { return }
        let acc = layout.cumulative[M - 1]
        func pick(_ rng: inout SplitMix64) -> String {
            let x = rng.unit() * acc
            var lo = 0, hi = M - 1
            while lo < hi { let mid = (lo + hi) / 2; if layout.cumulative[mid] < x { lo = mid + 1 } else { hi = mid } }
            return layout.codes[lo]
        }
        func anyCode(_ rng: inout SplitMix64) -> String { layout.codes[rng.below(M)] }
        if rng.chance(0.13) { h.familyTies = [pick(&rng)] }
        if rng.chance(0.33) {
            var wishes: [String] = []
            for _ in 0..<(1 + rng.below(3)) {
                let code = rng.chance(0.6) ? pick(&rng) : anyCode(&rng)
                if !wishes.contains(code) { wishes.append(code) }
            }
            h.preferences = wishes
        }
        if rng.chance(0.03) {
            var excluded: [String] = []
            for _ in 0..<(1 + rng.below(2)) {
                let code = pick(&rng)
                if !excluded.contains(code) && !h.familyTies.contains(code) && !h.preferences.contains(code) { excluded.append(code) }
            }
            h.excluded = excluded
        }
    }

    static func household(index: Int, seed: UInt64, rng: inout SplitMix64) -> PlacementInstance.Case {
        let sizes: [(Int, Double)] = [(1, 0.48), (2, 0.12), (3, 0.11), (4, 0.11), (5, 0.08), (6, 0.05), (7, 0.03), (8, 0.02)]
        let n = weighted(sizes, &rng)
        var ages: [Int] = []
        if n == 1 {
            ages = [rng.chance(0.08) ? 65 + rng.below(20) : 18 + rng.below(47)]
        } else {
            let parent = 22 + rng.below(35)
            ages.append(parent)
            let adults = n == 2 ? (rng.chance(0.6) ? 2 : 1) : (rng.chance(0.75) ? 2 : 1)
            if adults == 2 { ages.append(max(18, parent - 6 + rng.below(12))) }
            var child = min(17, max(0, parent - 20 - rng.below(4)))
            while ages.count < n {
                if rng.chance(0.05) { ages.append(60 + rng.below(25)); continue }   // a grandparent
                ages.append(child)
                child = max(0, child - 1 - rng.below(3))
            }
        }
        var needs: [String: Int] = [:]
        if rng.chance(0.09) { needs["trauma_care"] = rng.chance(0.15) ? 2 : 1 }
        if rng.chance(0.05) || ages.contains(where: { $0 >= 75 }) && rng.chance(0.5) { needs["accessible_dwellings"] = 1 }
        if rng.chance(0.005) { needs["dialysis"] = 1 }
        if rng.chance(0.003) { needs["interpreter_sign"] = 1 }
        var occupations: [String] = []
        if rng.chance(0.55) {
            for _ in 0..<(1 + rng.below(2)) {
                let o = occupations_(&rng)
                if !occupations.contains(o) { occupations.append(o) }
            }
        }
        let waiting = Int(-log1p(-rng.unit() * 0.97) * 90)
        return PlacementInstance.Case(
            id: "GEN-\(seed)-\(String(index + 1).leftPadded(6))", ages: ages, needs: needs,
            language: weighted(languages, &rng), occupations: occupations, waitingDays: min(waiting, 720))
    }

    private static func occupations_(_ rng: inout SplitMix64) -> String { occupations[rng.below(occupations.count)] }

    private static func weighted<T>(_ table: [(T, Double)], _ rng: inout SplitMix64) -> T {
        let total = table.reduce(0) { $0 + $1.1 }
        var x = rng.unit() * total
        for (value, p) in table {
            if x < p { return value }
            x -= p
        }
        return table[table.count - 1].0
    }

    /// x^0.9 without Foundation.
    private static func pow09(_ x: Double) -> Double { exp(0.9 * log(x)) }
}

private func log1p(_ x: Double) -> Double { log(1 + x) }

/// Natural logarithm and exponential without Foundation (series after range reduction); accurate
/// to ~1e-15 relative, enough for a generator, and identical on every platform.
private func log(_ x: Double) -> Double {
    precondition(x > 0)
    var m = x, e = 0.0
    while m > 2 { m /= 2; e += 1 }
    while m < 1 { m *= 2; e -= 1 }
    // log(m) = 2 atanh((m-1)/(m+1))
    let y = (m - 1) / (m + 1), y2 = y * y
    var term = y, sum = 0.0, k = 1.0
    while abs(term / k) > 1e-18 { sum += term / k; term *= y2; k += 2 }
    return 2 * sum + e * 0.693_147_180_559_945_3
}

private func exp(_ x: Double) -> Double {
    let n = (x / 0.693_147_180_559_945_3).rounded()
    let r = x - n * 0.693_147_180_559_945_3
    var term = 1.0, sum = 1.0, k = 1.0
    while abs(term) > 1e-18 { term *= r / k; sum += term; k += 1 }
    var result = sum
    if n > 0 { for _ in 0..<Int(n) { result *= 2 } } else { for _ in 0..<Int(-n) { result /= 2 } }
    return result
}

extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}

/// What a household consumes where it is placed (FORMAT.md "Demand of a case"). This is the one
/// definition in Swift: the solver (``Problem``), the instance generator, the reasons
/// (``Explanation``, through the compiled problem) and ReceptionKit all use it. The database has
/// its own, the view `case_demands` (sql/001_domain.sql), and the checker its own
/// (`demand` in scripts/check-placement); a test feeds the same generated households to the
/// database and to this function and compares (ReceptionKitTests, `DemandCrossCheckTests`).
public enum Demand {
    /// The dimensions computed from the members, in FORMAT.md order.
    public static let computedDimensions = ["persons", "dwellings", "large_dwellings", "school_places", "preschool_places"]
    /// A household of this many members or more needs a large dwelling.
    public static let largeHousehold = 5
    /// Members of these ages need a school place.
    public static let schoolAges = 6...15
    /// Members of these ages need a preschool place.
    public static let preschoolAges = 1...5

    /// The units of each computed dimension, in ``computedDimensions`` order.
    public static func computed(ages: some Sequence<Int>) -> [Int] {
        var persons = 0, school = 0, preschool = 0
        for age in ages {
            persons += 1
            if schoolAges.contains(age) { school += 1 }
            if preschoolAges.contains(age) { preschool += 1 }
        }
        return [persons, 1, persons >= largeHousehold ? 1 : 0, school, preschool]
    }

    /// The whole demand of a household by dimension: the computed dimensions plus its needs
    /// (a need named like a computed dimension adds to it). Dimensions of 0 units are left out.
    public static func of(_ household: PlacementInstance.Case) -> [String: Int] {
        var out: [String: Int] = [:]
        for (name, units) in zip(computedDimensions, computed(ages: household.members.lazy.map(\.age))) where units != 0 {
            out[name] = units
        }
        for (name, units) in household.needs { out[name, default: 0] += units }
        return out.filter { $0.value != 0 }
    }
}

extension PlacementInstance.Case {
    /// ``Demand/of(_:)`` of this household.
    public var demand: [String: Int] { Demand.of(self) }
}

import Foundation

extension PlacementInstance {
    /// The instance as `placement-instance/1` JSON: one municipality or case per line, keys in a
    /// fixed order, empty lists, zero waiting days, a zero `placed_person` and an empty
    /// `forecast` left out. Decoding it gives back an equal value
    /// (except that a name equal to the code is written out).
    public func jsonData() -> Data {
        var out = JSONWriter()
        func strings(_ key: String, _ list: [String], skipEmpty: Bool = true) {
            if skipEmpty && list.isEmpty { return }
            out.raw(",\"\(key)\":[")
            for (i, s) in list.enumerated() {
                if i > 0 { out.raw(",") }
                out.string(s)
            }
            out.raw("]")
        }
        func numbers(_ key: String, _ map: [String: Int]) {
            out.raw(",\"\(key)\":{")
            for (i, k) in map.keys.sorted(by: dimensionOrder).enumerated() {
                if i > 0 { out.raw(",") }
                out.string(k)
                out.raw(":\(map[k]!)")
            }
            out.raw("}")
        }
        let w = weights
        out.raw("{\"format\":")
        out.string(PlacementInstance.formatName)
        // placed_person only when set, so that instances without it are written as before.
        out.raw(",\n\"weights\":{\"placed\":\(w.placed),")
        if w.placedPerson != 0 { out.raw("\"placed_person\":\(w.placedPerson),") }
        out.raw("\"waiting_day\":\(w.waitingDay),\"family_ties\":\(w.familyTies),")
        out.raw("\"language\":\(w.language),\"occupation\":\(w.occupation),\"preference\":\(w.preference)},\n\"municipalities\":[")
        for (i, m) in municipalities.enumerated() {
            out.raw(i == 0 ? "\n{\"code\":" : ",\n{\"code\":")
            out.string(m.code)
            out.raw(",\"name\":")
            out.string(m.name)
            numbers("capacity", m.capacity)
            strings("languages", m.languages, skipEmpty: false)
            strings("shortage_occupations", m.shortageOccupations, skipEmpty: false)
            out.raw("}")
        }
        func households(_ list: [Case]) {
            for (i, c) in list.enumerated() {
                out.raw(i == 0 ? "\n{\"id\":" : ",\n{\"id\":")
                out.string(c.id)
                out.raw(",\"members\":[")
                for (j, member) in c.members.enumerated() { out.raw(j == 0 ? "{\"age\":\(member.age)}" : ",{\"age\":\(member.age)}") }
                out.raw("]")
                if !c.needs.isEmpty { numbers("needs", c.needs) }
                if let language = c.language {
                    out.raw(",\"language\":")
                    out.string(language)
                }
                strings("occupations", c.occupations)
                strings("family_ties", c.familyTies)
                strings("preferences", c.preferences)
                strings("excluded", c.excluded)
                if c.waitingDays != 0 { out.raw(",\"waiting_days\":\(c.waitingDays)") }
                out.raw("}")
            }
        }
        out.raw("],\n\"cases\":[")
        households(cases)
        if !forecast.isEmpty {
            out.raw("],\n\"forecast\":[")
            households(forecast)
        }
        out.raw("]}\n")
        return Data(out.bytes)
    }
}

/// Standard dimensions first in FORMAT.md order, then the rest alphabetically.
func dimensionOrder(_ a: String, _ b: String) -> Bool {
    let ia = Problem.standardDimensions.firstIndex(of: a) ?? Int.max
    let ib = Problem.standardDimensions.firstIndex(of: b) ?? Int.max
    return ia != ib ? ia < ib : a < b
}

/// Where an anvisning comes from (sql/013_anvisningar.sql `cases.category`).
public enum CaseCategory: String, Sendable, CaseIterable, Codable {
    /// From the Migration Agency's accommodation (the usual case, and the default).
    case agencyAccommodation = "agency_accommodation"
    /// A quota refugee, resettled from abroad; the anvisning usually names a later date.
    case quotaRefugee = "quota_refugee"
    /// Under temporary protection (the EU directive).
    case temporaryProtection = "temporary_protection"

    /// In an officer's words.
    public var description: String {
        switch self {
        case .agencyAccommodation: "from the Migration Agency's accommodation"
        case .quotaRefugee: "quota refugee"
        case .temporaryProtection: "temporary protection"
        }
    }
}

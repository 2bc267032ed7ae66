/// Why an anvisning ended without reception (sql/017_anvisning_endings.sql
/// `cases.withdrawn_cause`); the intake report counts each.
public enum WithdrawalCause: String, Sendable, CaseIterable, Codable {
    /// The person declined the anvisning.
    case declined
    /// They moved on their own: found housing themselves, or left.
    case movedOnOwn = "moved_on_own"
    /// The Migration Agency cancelled the anvisning.
    case cancelled
    /// Anything else (and every case withdrawn before causes were recorded).
    case other

    /// As typed on the command line: `moved-on-own` as well as `moved_on_own`.
    public init?(argument: String) {
        self.init(rawValue: argument.lowercased().replacingOccurrences(of: "-", with: "_"))
    }

    /// In an officer's words.
    public var description: String {
        switch self {
        case .declined: "declined the anvisning"
        case .movedOnOwn: "moved on their own"
        case .cancelled: "anvisning cancelled by the Migration Agency"
        case .other: "other cause"
        }
    }
}

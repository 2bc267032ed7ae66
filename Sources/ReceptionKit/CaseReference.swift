/// A case reference is a dossier number: compared without case and surrounding whitespace, so
/// `MIG-2026-1` and ` mig-2026-1 ` name the same dossier. The database's unique index
/// `cases_reference_normalized` is on the same key, `upper(btrim(reference))`.
public enum CaseReference {
    public static func key(_ reference: String) -> String {
        reference.trimmingCharacters(in: .whitespaces).uppercased()
    }
}

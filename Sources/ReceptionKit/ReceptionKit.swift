// ReceptionKit

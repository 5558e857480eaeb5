/// The version recorded in every output's provenance.
public enum SwiftCAMVersion {
    public static let string = "0.4.0"
}

/// The one error type SwiftCAM reports. `message` is written for the person at the terminal:
/// it names the file, node, field or flag at fault and what was expected.
public struct CAMError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        /// The command line or manifest was used wrongly (exit code 2).
        case usage
        /// A model file is malformed or inconsistent.
        case invalidModel
        /// Something valid that SwiftCAM does not implement (a dtype, an opset, an attribute value).
        case unsupported
        /// A valid model uses an operator SwiftCAM does not implement.
        case unsupportedOperator
        /// Input data (image, array) is wrong for the model.
        case invalidInput
        /// Reading or writing a file failed.
        case io
        /// A plugin could not be loaded or registered.
        case plugin
        /// A failure while running a graph.
        case runtime
    }

    public let kind: Kind
    public let message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }

    /// The process exit code for this error: 2 for misuse of the command line, 1 otherwise.
    public var exitCode: Int32 { kind == .usage ? 2 : 1 }
}

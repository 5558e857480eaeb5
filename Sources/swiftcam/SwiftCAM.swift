import ArgumentParser
import CAMCore
import Foundation

/// `swiftcam`: class activation maps for ONNX and Keras models.
struct SwiftCAM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swiftcam",
        abstract: "Class activation maps (Grad-CAM and family) for ONNX and Keras models, without PyTorch or TensorFlow.",
        subcommands: [ExplainCommand.self, RunCommand.self, PredictCommand.self, LayersCommand.self, PluginsCommand.self, BenchCommand.self, DFFCommand.self]
    )
}

/// Entry point: parses, runs, and turns every failure into one line on stderr and an exit
/// code — 2 for misuse of the command line, 1 for everything else.
@main
enum Main {
    static func main() {
        Log.start()
        // Everything the run allocated is released before `exit`, which never returns:
        // LeakSanitizer would report what was still on the stack.
        exit(run())
    }

    /// Runs the command line; returns the exit code.
    static func run() -> Int32 {
        do {
            var command = try SwiftCAM.parseAsRoot()
            try command.run()
            return 0
        } catch let error as CAMError {
            Diagnostics.error(error.message)
            return error.exitCode
        } catch let code as ExitCode {
            return code.rawValue
        } catch {
            let code = SwiftCAM.exitCode(for: error)
            if code == .success {
                print(SwiftCAM.fullMessage(for: error))
                return 0
            }
            let message = SwiftCAM.fullMessage(for: error)
            FileHandle.standardError.write(Data((message.hasSuffix("\n") ? message : message + "\n").utf8))
            // Parse and validation errors are misuse (2); anything else a failure (1).
            return error is ValidationError || code == .validationFailure ? 2 : (code.rawValue == 64 ? 2 : 1)
        }
    }
}

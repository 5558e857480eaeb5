/// A hook called before every node the executor runs on the current task — for tests and
/// profiling that need to know what ran (e.g. that AblationCAM never re-runs the layers before
/// its target layer). Scoped to the task, so concurrent work elsewhere is not observed.
public enum ExecutionObserver {
    @TaskLocal static var current: (@Sendable (Node) -> Void)?

    /// Runs `body` with `observe` called for every node executed within it.
    public static func observing<T>(_ observe: @escaping @Sendable (Node) -> Void, _ body: () throws -> T) rethrows -> T {
        try $current.withValue(observe) { try body() }
    }
}

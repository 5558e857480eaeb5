/// A CAM quality metric (upstream's `pytorch_grad_cam.metrics`): how faithful a batch of maps
/// is to the model — by perturbing the input where the maps point and scoring the model again
/// (confidence change, ROAD, …), or from the maps alone (Complexity).
///
/// Each metric lives in a plugin and holds only its own math. The core's `MetricContext` does
/// everything shared: running the model and scoring the targets, upstream's keep masks
/// (percentiles, Otsu), the noisy linear imputer with its sparse solve, seeded noise, running
/// the CAM method again (Coherency) and other metrics by name (averagers, ARCC).
///
/// A metric is registered under upstream's class name ("ROADMostRelevantFirst") and called
/// with upstream's arguments (`MetricCall`, e.g. `ROADMostRelevantFirst(80)`).
public protocol CAMMetric: AnyObject, Sendable {
    /// upstream's class name; `--metrics` matches it case-insensitively.
    var name: String { get }
    /// One line for `swiftcam plugins`.
    var summary: String { get }
    /// The key the scores are reported under: upstream's class with these arguments, defaults
    /// filled in as the reference spells them (`ROADMostRelevantFirst(80)`,
    /// `RemoveMostRelevantFirst('auto')`, `ARCC`). Throws a usage error for arguments the
    /// metric does not take, before any work is done.
    func key(for call: MetricCall) throws -> String
    /// One score per image of the context's batch.
    func scores(_ call: MetricCall, context: MetricContext) throws -> [Float]
}

/// Receives progress of long methods (ScoreCAM, AblationCAM: channels done of total).
public protocol ProgressSink: AnyObject, Sendable {
    func update(done: Int, total: Int, label: String)
}

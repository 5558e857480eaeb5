/// Index of a named value (tensor) in a `Graph`.
@frozen public struct ValueID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let index: Int

    @inlinable public init(_ index: Int) { self.index = index }

    @inlinable public static func < (a: ValueID, b: ValueID) -> Bool { a.index < b.index }

    public var description: String { "%\(index)" }
}

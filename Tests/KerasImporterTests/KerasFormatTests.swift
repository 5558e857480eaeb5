import CAMCore
import Foundation
import KerasFormat
import Testing
import TestSupport

@Suite("Keras .h5 format layer")
struct KerasFormatTests {
    @Test func readsSmallCNN() throws {
        guard let path = Fixtures.path("keras/small_cnn/model.h5") else { return }
        let file = try KerasModelFile.read(path: path)
        #expect(file.kerasVersion == "3.15.1")
        #expect(file.backend == "torch")
        #expect(file.model.layers.count == 18)
        #expect(file.weights["conv1"]?.map(\.variable) == ["kernel", "bias"])
        #expect(file.weights["conv1"]?[0].shape == [3, 3, 3, 16])
    }
}

import CAMCore
import Foundation
import Testing

/// Damaged files must give a `CAMError` (or, for harmless damage, a picture), never a crash.
@Suite("Corrupted image files")
struct CorruptionTests {
    /// SplitMix64: a fixed, platform-independent sequence.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    @Test("random byte damage never crashes the decoders",
          arguments: ["rgb.png", "palette.png", "grey_alpha.png", "rgb16.png", "colour420.jpg", "grey.jpg"])
    func damage(name: String) throws {
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: ImageFixtures.localPath(name))))
        var random = Random(state: UInt64(original.count))
        var decoded = 0, rejected = 0
        for round in 0..<300 {
            var bytes = original
            switch round % 3 {
            case 0:  // flip a few bytes after the signature
                for _ in 0..<(1 + random.below(4)) {
                    let i = 3 + random.below(bytes.count - 3)
                    bytes[i] ^= UInt8(1 + random.below(255))
                }
            case 1:  // cut the file short
                bytes = Array(bytes[0..<(3 + random.below(bytes.count - 3))])
            default:  // overwrite a run with garbage
                let start = 3 + random.below(bytes.count - 3)
                let end = min(bytes.count, start + 1 + random.below(32))
                for i in start..<end { bytes[i] = UInt8(random.below(256)) }
            }
            do {
                let image = try RGBImage.decode(Data(bytes), source: "\(name)#\(round)")
                #expect(image.pixels.count == image.width * image.height * 3)
                decoded += 1
            } catch let error as CAMError {
                #expect(error.message.hasPrefix("\(name)#\(round)"))
                rejected += 1
            }
        }
        print("measure: damaged \(name): \(decoded) decoded, \(rejected) rejected with CAMError")
    }
}

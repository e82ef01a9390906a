// libFuzzer entry point for the two decoders that take bytes straight from clients: the
// request decoder and the record-batch parser. The first input byte picks the decoder.
//
// Fuzz (release, sanitizers; see README "Fuzzing"):
//   swift build -c release --product decoder-fuzzer --scratch-path .build-fuzz \
//     -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
//   .build-fuzz/release/decoder-fuzzer -max_total_time=60 fuzz-corpus/
// Built normally, it replays the files named on the command line through the same code.

import KafkaProtocol
import KafkaRecords

func decodeOne(_ bytes: [UInt8]) {
    guard let selector = bytes.first else { return }
    let payload = Array(bytes.dropFirst())
    if selector & 1 == 0 {
        _ = try? RequestCodec.decode(frame: payload)
    } else if let batch = try? RecordBatch(bytes: payload) {
        _ = try? batch.validate()
        _ = try? batch.records(decompressionLimit: 1 << 20)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    decodeOne(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

#if FUZZING
    import Glibc

    // SwiftPM gives every executable its own entry point, so libFuzzer's main is not used; its
    // driver is called from ours instead.
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>,
        _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
        _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    @main
    struct FuzzDriver {
        static func main() {
            var argc = CommandLine.argc
            var argv = CommandLine.unsafeArgv
            exit(runFuzzerDriver(&argc, &argv, fuzzOne))
        }
    }
#else
    import Foundation

    @main
    struct CorpusReplay {
        static func main() {
            var replayed = 0
            for path in CommandLine.arguments.dropFirst() {
                guard let data = FileManager.default.contents(atPath: path) else {
                    FileHandle.standardError.write(Data("decoder-fuzzer: cannot read \(path)\n".utf8))
                    exit(2)
                }
                decodeOne([UInt8](data))
                replayed += 1
            }
            print("decoder-fuzzer: replayed \(replayed) inputs without a crash")
        }
    }
#endif

// What the admin commands share: where the cluster is (-b/--brokers, SWIFTLET_BROKERS), how
// answers are printed (aligned tables, or JSON for scripts), and how a failure is reported
// (Kafka's error name and a line of advice on stderr, exit status 1).

import ArgumentParser
import Broker
import FoundationEssentials
import KafkaClient
import SystemCalls

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json
}

struct ClusterOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Bootstrap brokers, host:port[,host:port...]. Default SWIFTLET_BROKERS, else 127.0.0.1:9092.")
    var brokers: String?
    @Option(name: .long, help: "table (aligned columns) or json.")
    var format: OutputFormat = .table
    @Option(name: .long, help: "Milliseconds to wait for each answer.")
    var timeout: Int32 = 10_000

    var bootstrap: [String] {
        (brokers ?? ProcessInfo.processInfo.environment["SWIFTLET_BROKERS"] ?? "127.0.0.1:9092")
            .split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty }
    }

    func cluster() throws -> KafkaCluster {
        try reportingFailures { () throws(ClientError) in
            try KafkaCluster(bootstrap: bootstrap, clientId: "swiftlet-cli", timeoutMilliseconds: timeout)
        }
    }
}

/// Runs `body`; a ClientError is printed and becomes exit status 1.
@discardableResult
func reportingFailures<Result>(_ body: () throws(ClientError) -> Result) throws -> Result {
    do {
        return try body()
    } catch {
        System.writeStandardError("error: \(error)\n")
        throw ExitCode(1)
    }
}

/// Per-item failures, after the table that shows them: printed, and exit status 1.
func reportFailures(_ failures: [String]) throws {
    guard !failures.isEmpty else { return }
    System.writeStandardError("error: \(failures.joined(separator: "\n"))\n")
    throw ExitCode(1)
}

/// Rows printed as aligned columns under a header, or as a JSON array of objects.
struct Table {
    var columns: [String]
    var rows: [[JSON]] = []

    init(_ columns: String...) { self.columns = columns }

    mutating func add(_ values: JSON...) { rows.append(values) }

    /// The rows as objects keyed by column ("LOG-END" is "log_end").
    var json: JSON {
        .array(rows.map { row in JSON.object(zip(columns, row).map { ($0.0.lowercased().replacing("-", with: "_"), $0.1) }) })
    }

    func print(_ format: OutputFormat) {
        switch format {
        case .json:
            System.writeStandardOutput(json.text + "\n")
        case .table:
            let cells = [columns] + rows.map { $0.map(Self.cell) }
            let widths = columns.indices.map { column in cells.map { $0[column].count }.max() ?? 0 }
            for row in cells {
                let padded = row.enumerated().map { index, cell in
                    index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
                }
                System.writeStandardOutput(padded.joined(separator: "  ") + "\n")
            }
        }
    }

    static func cell(_ value: JSON) -> String {
        switch value {
        case .string(let text): return text ?? "-"
        case .null: return "-"
        case .number(let number): return String(number)
        case .double(let number): return String(number)
        case .bool(let flag): return flag ? "yes" : "no"
        case .array(let values): return values.map(cell).joined(separator: ",")
        case .object(let fields): return fields.map { "\($0.0)=\(cell($0.1))" }.joined(separator: ",")
        }
    }
}

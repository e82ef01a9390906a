// Writes the ApiKey enum: every api key the schemas define, with the message types that
// carry it, so dispatch and ApiVersions never keep a hand-written list.

enum ApiKeyEmitter {
    static func emit(files: [SchemaFile]) -> String {
        let requests = files.flatMap(\.messages).filter { $0.kind == .request }
            .sorted { $0.apiKey! < $1.apiKey! }
        var text = SwiftText()
        text.line(SwiftEmitter.banner + "*.kafka (every request message).")
        text.line()
        text.line("/// Every Kafka API this codec knows, by its wire number.")
        text.block("public enum ApiKey: Int16, Sendable, CaseIterable, CustomStringConvertible") { body in
            for request in requests {
                body.line("case \(Naming.enumCase(request.name)) = \(request.apiKey!)")
            }
            body.line()
            body.line("/// Kafka's name for the API, as in its documentation and logs.")
            body.block("public var name: String") { property in
                property.block("switch self") { cases in
                    for request in requests {
                        cases.line("case .\(Naming.enumCase(request.name)): return \"\(request.name)\"")
                    }
                }
            }
            body.line()
            body.block("public var requestType: any KafkaRequest.Type") { property in
                property.block("switch self") { cases in
                    for request in requests {
                        cases.line("case .\(Naming.enumCase(request.name)): return \(request.typeName).self")
                    }
                }
            }
            body.line()
            body.block("public var responseType: any KafkaResponse.Type") { property in
                property.block("switch self") { cases in
                    for request in requests {
                        cases.line("case .\(Naming.enumCase(request.name)): return \(request.name)Response.self")
                    }
                }
            }
            body.line()
            body.line("public var description: String { \"\\(name)(\\(rawValue))\" }")
        }
        return text.text
    }
}

// The swiftlet executable: `swiftlet serve` (the default) starts the broker. Settings come
// from flags, then SWIFTLET_* and KAFKA_* environment variables, then a server.properties
// file, then Kafka's defaults (SettingSources); a bad one exits 64 naming it.

import ArgumentParser
import Broker
import FoundationEssentials
import Glibc
import LogStorage
import Logging
import Reactor
import SystemCalls

@main
struct Swiftlet: ParsableCommand {
    static let version = Broker.softwareVersion
    static let configuration = CommandConfiguration(
        commandName: "swiftlet",
        abstract: "A Kafka wire-protocol compatible broker.",
        version: version,
        subcommands: [Serve.self, Topic.self, Produce.self, Consume.self, Group.self, Cluster.self, Health.self],
        defaultSubcommand: Serve.self)
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the broker (the default command).")

    @Option(
        name: .long,
        help:
            "A listener, [NAME://]host:port, NAME a security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) or one listener.security.protocol.map maps (repeat for several). Default PLAINTEXT://127.0.0.1:9092."
    )
    var listen: [String] = []
    @Option(
        name: .long,
        help: "What Metadata gives clients: [NAME://]host:port, comma separated, by listener name. Default: each listener's address.")
    var advertisedListener: String?
    @Option(name: .long, help: "Data directory. Default ./swiftlet-data.")
    var dataDir: String?
    @Flag(name: .long, help: "Keep everything in memory (nothing survives a restart).")
    var memory = false
    @Option(name: .long, help: "Event loops (network threads). Default: one per core.")
    var reactors: Int?
    @Option(name: .long, help: "This broker's node id. Default 1.")
    var nodeId: Int32?
    @Option(name: .long, help: "Cluster id. Default: generated once and kept in the data directory.")
    var clusterId: String?
    @Option(name: .long, help: "error, warn, info or debug. Default info.")
    var logLevel: String?
    @Option(name: .long, help: "logfmt (time=... level=... msg=...) or json (an object per line). Default logfmt.")
    var logFormat: String?
    @Option(
        name: .long,
        help:
            "The HTTP listener for /healthz, /readyz and /metrics, host:port, or off. Default 127.0.0.1:9644 (left out with a warning when taken)."
    )
    var httpListen: String?
    @Option(
        name: .long,
        help: "Join a cluster whose metadata lives in etcd: etcd://host:port[,host:port...] (key metadata.store). Default: one broker."
    )
    var metadataStore: String?
    @Option(name: .long, help: "A server.properties file (Kafka's keys that apply).")
    var config: String?
    @Flag(name: .long, help: "Start from Kafka's defaults where Swiftlet's differ (group.initial.rebalance.delay.ms=3000).")
    var kafkaDefaults = false
    @Option(name: .long, help: "When ready, write the 'ready bootstrap=host:port' lines to this file too (atomically).")
    var readyFile: String?
    @Option(
        name: .long,
        help: "A SASL user, NAME:PASSWORD (repeat for several): a PLAIN password and SCRAM-SHA-256/512 credentials, made at start.")
    var user: [String] = []
    @Option(
        name: .long,
        help:
            "A topic to make at start when missing, NAME[:PARTITIONS[:key=value,...]] (repeat for several; SWIFTLET_TOPICS takes them space separated)."
    )
    var topic: [String] = []
    @Flag(name: .long, help: "Apply ACLs, as Kafka's StandardAuthorizer (authorizer.class.name; super.users names who passes).")
    var authorizer = false
    @Flag(
        name: .long,
        help:
            "TLS listeners without a keystore get a self-signed certificate, made once and kept in the data directory; clients trust its ca.pem."
    )
    var tlsSelfSigned = false

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        var settings = BrokerConfiguration()
        settings.httpListener = SocketAddress("127.0.0.1:9644")
        if try kafkaDefaults || SettingSources.flag("SWIFTLET_KAFKA_DEFAULTS", in: environment) {
            settings.restoreKafkaDefaults()
        }
        // Lowest precedence first: file, then environment, then flags.
        var sources = SettingSources()
        if let path = config ?? environment["SWIFTLET_CONFIG"] {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("cannot read config file \(path)")
            }
            try sources.apply(file: ServerProperties.parse(text, source: path), path: path, to: &settings)
        }
        try sources.apply(environment: environment, to: &settings)
        try sources.check()
        let listens = !listen.isEmpty ? listen : environment["SWIFTLET_LISTEN"]?.split(separator: ",").map(String.init) ?? []
        if !listens.isEmpty { settings.listenerSettings.listeners = listens.joined(separator: ",") }
        if let advertised = advertisedListener ?? environment["SWIFTLET_ADVERTISED_LISTENER"] {
            settings.listenerSettings.advertised = advertised
        }
        do {
            try settings.resolveListeners()
        } catch {
            throw ValidationError(error.message)
        }
        if authorizer { settings.authorizerEnabled = true }
        if let text = httpListen ?? environment["SWIFTLET_HTTP_LISTEN"] {
            // As the key http.listeners reads it.
            _ = try ServerProperties.apply(
                "http.listeners", text, to: &settings, source: httpListen != nil ? "--http-listen" : "SWIFTLET_HTTP_LISTEN")
        }
        if let text = metadataStore ?? environment["SWIFTLET_METADATA_STORE"] {
            _ = try ServerProperties.apply(
                "metadata.store", text, to: &settings, source: metadataStore != nil ? "--metadata-store" : "SWIFTLET_METADATA_STORE")
        }
        for text in topic + (environment["SWIFTLET_TOPICS"]?.split(whereSeparator: \.isWhitespace).map(String.init) ?? []) {
            do {
                settings.seedTopics.append(try SeedTopic(parsing: text))
            } catch {
                throw ValidationError(error.message)
            }
        }
        for entry in user + (environment["SWIFTLET_USERS"]?.split(separator: ",").map(String.init) ?? []) {
            guard let colon = entry.firstIndex(of: ":"), colon != entry.startIndex, entry.index(after: colon) != entry.endIndex else {
                throw ValidationError("--user: \"\(entry)\" is not NAME:PASSWORD")
            }
            let (name, password) = (String(entry[..<colon]), String(entry[entry.index(after: colon)...]))
            settings.sasl.plainUsers[name] = password
            settings.sasl.startUsers[name] = password
        }
        if let directory = dataDir ?? environment["SWIFTLET_DATA_DIR"] { settings.dataDirectory = directory }
        if settings.dataDirectory == "./swiftlet-data" || settings.dataDirectory == nil { settings.dataDirectory = "./swiftlet-data" }
        if try memory || SettingSources.flag("SWIFTLET_MEMORY", in: environment) { settings.dataDirectory = nil }
        var selfSignedAuthority: String?
        if tlsSelfSigned, settings.ssl.broker["ssl.keystore.location"] == nil {
            let directory = (settings.dataDirectory ?? "/tmp/swiftlet-\(getuid())") + "/tls"
            let hosts = settings.listeners.filter(\.securityProtocol.usesTLS).map { $0.advertisedHost ?? $0.address.host }
            do {
                let made = try SelfSignedCertificate.ensure(in: directory, hosts: hosts)
                settings.ssl.broker["ssl.keystore.location"] = made.keystore
                selfSignedAuthority = made.certificateAuthority
            } catch {
                throw ValidationError("\(error)")
            }
        }
        for listener in settings.listeners {
            if let problem = settings.sasl.problem(with: listener) { throw ValidationError(problem) }
            if listener.securityProtocol.usesTLS {
                // The certificate and key are loaded now, so that a bad one stops the start.
                do {
                    _ = try TLSContext(settings.ssl.settings(for: listener))
                    _ = try settings.ssl.principalMapping(for: listener)
                } catch let error as ListenerError {
                    throw ValidationError(error.message)
                } catch {
                    throw ValidationError("listener \(listener.name): \(error)")
                }
            }
        }
        if let loops = try reactors ?? SettingSources.integer("SWIFTLET_REACTORS", in: environment, minimum: 1) {
            guard loops >= 1 else { throw ValidationError("--reactors must be at least 1") }
            settings.eventLoops = loops
        }
        if let id = try nodeId ?? SettingSources.integer("SWIFTLET_NODE_ID", in: environment, minimum: Int32(0)) {
            guard id >= 0 else { throw ValidationError("--node-id must be 0 or more") }
            settings.nodeId = id
        }
        if let id = clusterId ?? environment["SWIFTLET_CLUSTER_ID"] { settings.clusterId = id }
        // Kafka's LogConfig.validateValues, for the broker-wide defaults.
        if settings.logDefaults.minimumCompactionLagMilliseconds > settings.logDefaults.maximumCompactionLagMilliseconds {
            throw ValidationError("log.cleaner.min.compaction.lag.ms must not exceed log.cleaner.max.compaction.lag.ms")
        }
        let levelName = logLevel ?? environment["SWIFTLET_LOG_LEVEL"] ?? "info"
        guard let level = StandardErrorLogHandler.level(named: levelName) else {
            throw ValidationError("--log-level: \"\(levelName)\" is not error, warn, info or debug")
        }
        let formatName = logFormat ?? environment["SWIFTLET_LOG_FORMAT"] ?? "logfmt"
        guard let format = StandardErrorLogHandler.Format(rawValue: formatName) else {
            throw ValidationError("--log-format: \"\(formatName)\" is not logfmt or json")
        }

        let logger = Logger(label: "swiftlet") { _ in StandardErrorLogHandler(format: format, logLevel: level) }
        for warning in sources.warnings { logger.warning("\(warning)") }
        // Only the acceptor's signalfd may see these: block them before any thread starts.
        try System.blockSignals([SIGTERM, SIGINT])
        // Each segment holds three descriptors and each client one: take what the hard limit
        // allows, as the JVM does for Kafka, rather than the shell's 1,024.
        if let limit = try? System.openFileLimit(), limit.soft < limit.hard {
            try? System.setOpenFileLimit(soft: limit.hard, hard: limit.hard)
        }
        // /readyz answers 503 "starting" while the logs are recovered and the coordinators
        // replayed (a fixed port only: port 0 is chosen again by the real listener).
        let starting = settings.httpListener.flatMap { $0.port == 0 ? nil : Broker.startingResponder(on: $0) }
        defer { starting?.shutdown() }
        let broker: Broker
        do {
            broker = try Broker(configuration: settings, logger: logger)
            starting?.shutdown()
            starting?.waitUntilStopped()
        } catch BrokerError.metaProperties(let message) {
            // The data directory belongs to another cluster or node: the settings are wrong.
            logger.error("cannot start: \(message)")
            throw ExitCode(64)
        } catch {
            logger.error("cannot start: \(error)")
            throw ExitCode(2)
        }
        let server: Server
        do {
            server = try broker.serve(handlesSignals: true)
        } catch BrokerError.httpListener(let message), BrokerError.cluster(let message) {
            logger.error("cannot start: \(message)")
            throw ExitCode(64)
        } catch {
            logger.error("cannot listen on \(settings.listeners.map(\.address.description).joined(separator: ", ")): \(error)")
            throw ExitCode(2)
        }
        let (host, port) = broker.advertised
        let advertised = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        logger.info(
            "swiftlet \(Swiftlet.version) listening on \(server.boundAddresses.prefix(settings.listeners.count).map(\.description).joined(separator: ", ")) (advertised \(advertised)), data \(settings.dataDirectory ?? "in memory"), node \(settings.nodeId), cluster \(broker.clusterId), \(server.eventLoops.count) event loop(s); try: kcat -b \(advertised) -L"
        )
        if let selfSignedAuthority {
            logger.info("TLS listeners use a self-signed certificate; clients trust it with ssl.ca.location=\(selfSignedAuthority)")
        }
        // Logs recovered and coordinators replayed: what a test harness waits for, whatever
        // the log level (port 0 resolved to the port the system chose).
        if let http = broker.httpAddress { logger.info("HTTP on http://\(http): /healthz, /readyz, /metrics") }
        let ready = server.boundAddresses.prefix(settings.listeners.count).map { "ready bootstrap=\($0)\n" }.joined()
        System.writeStandardOutput(ready)
        if let path = readyFile ?? environment["SWIFTLET_READY_FILE"] {
            do {
                try System.replaceFile(path, with: Array(ready.utf8))
            } catch {
                logger.error("cannot write --ready-file \(path): \(error)")
                throw ExitCode(64)
            }
        }
        server.waitUntilStopped()
        do {
            try broker.shutdown()
        } catch {
            logger.error("shutdown: \(error)")
            throw ExitCode(1)
        }
        logger.info("stopped cleanly")
    }
}

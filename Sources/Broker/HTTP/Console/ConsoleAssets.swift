// The web console's files, compiled into the binary (no files to install, nothing fetched
// from elsewhere): the page, its script and its style sheet, each in its own source file.

enum ConsoleAssets {
    static func asset(at path: String) -> (content: String, contentType: String)? {
        switch path {
        case "/", "/index.html": return (page, "text/html; charset=utf-8")
        case "/console.js": return (script, "text/javascript; charset=utf-8")
        case "/console.css": return (style, "text/css; charset=utf-8")
        default: return nil
        }
    }
}

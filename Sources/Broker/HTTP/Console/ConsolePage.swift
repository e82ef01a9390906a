// The web console's page (index.html, served at /): the frame the console's script fills in;
// it loads /console.css and /console.js.

extension ConsoleAssets {
    static let page = #"""
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <meta name="viewport" content="width=device-width, initial-scale=1">
          <title>Swiftlet console</title>
          <link rel="icon" href="data:,">
          <link rel="stylesheet" href="/console.css">
          <script src="/console.js" defer></script>
        </head>
        <body>
          <header class="top">
            <a class="brand" href="#/">Swiftlet</a>
            <span id="broker-badge" class="muted mono"></span>
            <span id="read-only" class="read-only-badge" hidden>read-only console</span>
            <button id="refresh" type="button" title="Reload this page's data">Refresh</button>
          </header>
          <div class="layout">
            <nav id="nav" class="side">
              <a href="#/" data-route="overview">Overview</a>
              <a href="#/topics" data-route="topics">Topics</a>
              <a href="#/groups" data-route="groups">Consumer groups</a>
              <a href="#/transactions" data-route="transactions">Transactions</a>
              <a href="#/clients" data-route="clients">Clients</a>
            </nav>
            <main>
              <div id="error" class="banner error" role="alert" hidden>
                <span id="error-text"></span>
                <button id="error-close" type="button" class="link" aria-label="Dismiss">&times;</button>
              </div>
              <div id="notice" class="banner notice" role="status" hidden></div>
              <div id="app" aria-live="polite"><p class="muted">Loading…</p></div>
            </main>
          </div>
        </body>
        </html>
        """#
}

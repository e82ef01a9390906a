// The web console's style sheet (/console.css).

extension ConsoleAssets {
    static let style = #"""
        /* Swiftlet console: a light, plain look with a left navigation. */
        :root {
          --fg: #1d2430;
          --muted: #667085;
          --line: #e3e7ee;
          --bg: #f6f8fb;
          --panel: #ffffff;
          --accent: #2563eb;
          --accent-soft: #e8effd;
          --danger: #b42318;
          --danger-soft: #fdecea;
          --ok-soft: #e7f6ec;
          --ok: #157a3c;
          --warn-soft: #fff4e0;
          --warn: #9a5b00;
          --mono: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace;
        }
        * { box-sizing: border-box; }
        html, body { margin: 0; padding: 0; }
        body {
          font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
          color: var(--fg);
          background: var(--bg);
        }
        a { color: var(--accent); text-decoration: none; }
        a:hover { text-decoration: underline; }
        h1 { font-size: 20px; margin: 0 0 14px; font-weight: 600; }
        h2 { font-size: 15px; margin: 22px 0 8px; font-weight: 600; }
        .mono, td.num, code { font-family: var(--mono); font-size: 12.5px; }
        .muted { color: var(--muted); }
        .small { font-size: 12px; }

        header.top {
          display: flex; align-items: center; gap: 14px;
          height: 48px; padding: 0 18px;
          background: #111827; color: #e5e7eb;
        }
        header.top .brand { color: #fff; font-weight: 700; font-size: 16px; letter-spacing: .3px; }
        header.top .muted { color: #9ca3af; }
        header.top #refresh { margin-left: auto; }
        .read-only-badge {
          background: var(--warn-soft); color: var(--warn); border-radius: 10px;
          padding: 1px 10px; font-size: 12px; font-weight: 600;
        }
        .layout { display: flex; min-height: calc(100vh - 48px); }
        nav.side {
          flex: 0 0 190px; padding: 14px 0; background: var(--panel); border-right: 1px solid var(--line);
        }
        nav.side a { display: block; padding: 7px 20px; color: var(--fg); border-left: 3px solid transparent; }
        nav.side a:hover { background: var(--bg); text-decoration: none; }
        nav.side a.active { border-left-color: var(--accent); background: var(--accent-soft); color: var(--accent); font-weight: 600; }
        main { flex: 1; min-width: 0; padding: 20px 26px 40px; }

        .banner { border-radius: 6px; padding: 9px 12px; margin-bottom: 14px; display: flex; gap: 10px; align-items: start; }
        .banner.error { background: var(--danger-soft); color: var(--danger); border: 1px solid #f5c2bd; }
        .banner.notice { background: var(--ok-soft); color: var(--ok); border: 1px solid #b7e2c4; }
        .banner #error-text { flex: 1; white-space: pre-wrap; }
        [hidden] { display: none !important; }

        .crumbs { margin-bottom: 6px; color: var(--muted); }
        .crumbs a { color: var(--muted); }

        table.data {
          width: 100%; border-collapse: collapse; background: var(--panel);
          border: 1px solid var(--line); border-radius: 6px; overflow: hidden;
        }
        table.data th, table.data td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
        table.data th { background: #f9fafb; font-weight: 600; color: #475467; font-size: 12.5px; white-space: nowrap; }
        table.data tr:last-child td { border-bottom: none; }
        table.data td.num, table.data th.num { text-align: right; }
        table.data td.empty { color: var(--muted); text-align: center; font-style: italic; }
        table.data tr.control td { background: #fafafa; }
        table.inner { border: none; }
        table.inner th, table.inner td { padding: 3px 8px; }

        .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px; }
        .card { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
        .card .label { color: var(--muted); font-size: 12px; }
        .card .value { font-size: 19px; font-weight: 600; font-family: var(--mono); }

        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0 0 8px;
          background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 14px; }
        dl.facts dt { color: var(--muted); }
        dl.facts dd { margin: 0; font-family: var(--mono); font-size: 12.5px; word-break: break-all; }

        .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 12px; }
        .chart { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
        .chart h3 { margin: 0 0 6px; font-size: 13px; font-weight: 600; }
        .chart canvas { display: block; width: 100%; height: 170px; }
        .legend { display: flex; flex-wrap: wrap; gap: 4px 14px; margin-top: 6px; font-size: 12px; }
        .legend .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }

        form.panel, .panel {
          background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; margin: 8px 0;
        }
        .inline { display: flex; flex-wrap: wrap; gap: 10px 14px; align-items: end; }
        form label { display: flex; flex-direction: column; gap: 3px; font-size: 12px; color: #475467; }
        form label.grow { flex: 1 1 260px; }
        fieldset { border: none; margin: 0; padding: 0; min-width: 0; }
        input, select, textarea, button {
          font: inherit; font-size: 13px; color: var(--fg);
          border: 1px solid #cfd6e1; border-radius: 5px; padding: 5px 8px; background: #fff;
        }
        textarea { font-family: var(--mono); font-size: 12.5px; min-height: 56px; resize: vertical; width: 100%; }
        input[type=number] { width: 110px; }
        button { cursor: pointer; background: #f3f5f8; }
        button:hover:not(:disabled) { background: #e9edf3; }
        button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
        button.primary:hover:not(:disabled) { background: #1d4fd0; }
        button.danger { color: var(--danger); border-color: #f0b6b0; background: #fff; }
        button.danger:hover:not(:disabled) { background: var(--danger-soft); }
        button.small { font-size: 12px; padding: 2px 8px; }
        button.link { border: none; background: none; padding: 0 4px; color: inherit; font-size: 16px; line-height: 1; }
        button:disabled, input:disabled, select:disabled, textarea:disabled { opacity: .55; cursor: not-allowed; }
        header.top button { background: #1f2937; color: #e5e7eb; border-color: #374151; }
        header.top button:hover { background: #374151 !important; }

        .toolbar { display: flex; gap: 10px; align-items: center; margin: 4px 0 10px; flex-wrap: wrap; }
        .spacer { flex: 1; }

        .badge { display: inline-block; border-radius: 9px; padding: 0 7px; font-size: 11px; font-weight: 600; margin: 0 4px 2px 0; }
        .badge.txn { background: #ede9fe; color: #5b21b6; }
        .badge.commit { background: var(--ok-soft); color: var(--ok); }
        .badge.abort { background: var(--danger-soft); color: var(--danger); }
        .badge.codec { background: #eef2f6; color: #475467; }
        .badge.state { background: var(--accent-soft); color: var(--accent); }
        .badge.internal { background: #eef2f6; color: #475467; }

        pre.payload { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; font-family: var(--mono); font-size: 12px;
          max-height: 240px; overflow: auto; }
        .null { color: var(--muted); font-style: italic; font-family: var(--mono); font-size: 12px; }
        ul.plain { list-style: none; margin: 0; padding: 0; }
        details summary { cursor: pointer; color: var(--accent); }
        .note { color: var(--muted); font-size: 12.5px; margin: 4px 0 8px; }
        td .actions { display: flex; gap: 6px; flex-wrap: wrap; }
        td input.config-input { width: 100%; min-width: 160px; font-family: var(--mono); }
        td.timestamp, td.nowrap { white-space: nowrap; }
        ul.plain li pre.payload { display: inline; }
        .overview-top { display: grid; grid-template-columns: minmax(300px, 1fr) minmax(360px, 1.3fr); gap: 16px; }
        .overview-top h2 { margin-top: 0; }
        .overview-top .cards { grid-template-columns: repeat(3, 1fr); }
        dl.facts { max-width: 760px; }
        td.headers { min-width: 150px; }
        """#
}

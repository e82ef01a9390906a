// The web console's script (/console.js): a single page over /api/v1, routed by the URL's hash,
// with its own small canvas charts; no libraries.

extension ConsoleAssets {
    static let script = #"""
        // Swiftlet console: a single page over the broker's /api/v1 JSON, routed by the URL's hash.
        // Every text from the API reaches the page as a text node (never parsed as HTML).
        'use strict';

        (() => {
          const state = {
            readOnly: false, info: null, seq: 0, timer: null, redraw: null, notice: null,
            history: [], showAs: 'text', queries: {},
          };
          const palette = ['#2563eb', '#16a34a', '#ea580c', '#9333ea', '#0891b2', '#db2777', '#65a30d', '#b45309'];

          // ---- DOM helpers -------------------------------------------------------------------------

          const $ = (selector, root = document) => root.querySelector(selector);

          // h('tag', {attr: value, onclick: fn}, children...): strings become text nodes, null is skipped.
          function h(tag, attrs, ...children) {
            const node = document.createElement(tag);
            for (const [name, value] of Object.entries(attrs || {})) {
              if (value === null || value === undefined || value === false) continue;
              if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
              else if (name === 'class') node.className = value;
              else node.setAttribute(name, value === true ? '' : String(value));
            }
            for (const child of children.flat(Infinity)) {
              if (child === null || child === undefined || child === false) continue;
              node.append(child instanceof Node ? child : String(child));
            }
            return node;
          }

          const num = (value, attrs = {}) => h('td', { class: 'num', ...attrs }, value);
          const mono = (value) => h('span', { class: 'mono' }, value);
          const badge = (text, kind) => h('span', { class: 'badge ' + kind }, text);
          const enc = encodeURIComponent;

          // A table with a header row; `columns` items are labels or {label, num: true}.
          function table(id, columns, rows, emptyText) {
            const head = h('tr', {}, columns.map((column) =>
              typeof column === 'string' ? h('th', {}, column) : h('th', { class: column.num ? 'num' : '' }, column.label)));
            const body = rows.length ? rows : [h('tr', {}, h('td', { class: 'empty', colspan: columns.length }, emptyText))];
            return h('table', { id, 'data-testid': id, class: 'data' }, h('thead', {}, head), h('tbody', {}, body));
          }

          // Mutating controls exist only when the console may change things.
          const writable = (make) => (state.readOnly ? null : make());

          // ---- formatting --------------------------------------------------------------------------

          const intFormat = new Intl.NumberFormat('en-US');
          const fmtInt = (value) => (typeof value === 'number' ? intFormat.format(value) : String(value ?? ''));

          function fmtBytes(value) {
            if (typeof value !== 'number' || !isFinite(value)) return String(value ?? '');
            const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
            let scaled = value;
            let unit = 0;
            while (Math.abs(scaled) >= 1024 && unit < units.length - 1) {
              scaled /= 1024;
              unit += 1;
            }
            return (unit === 0 ? String(Math.round(scaled)) : scaled.toFixed(scaled < 10 ? 2 : 1)) + ' ' + units[unit];
          }

          function fmtTime(ms) {
            if (typeof ms !== 'number' || ms < 0 || !isFinite(ms) || ms > 8.64e15) return String(ms ?? '');
            return new Date(ms).toISOString();
          }

          function fmtDuration(ms) {
            if (typeof ms !== 'number' || !isFinite(ms)) return '';
            let seconds = Math.max(0, Math.floor(ms / 1000));
            const parts = [];
            for (const [size, unit] of [[86400, 'd'], [3600, 'h'], [60, 'm']]) {
              if (seconds >= size) {
                parts.push(Math.floor(seconds / size) + unit);
                seconds %= size;
              }
            }
            parts.push(seconds + 's');
            return parts.slice(0, 2).join(' ');
          }

          function fmtSeconds(value) {
            if (value === null || value === undefined || !isFinite(value)) return '—';
            const ms = value * 1000;
            if (ms < 1) return (ms * 1000).toFixed(0) + ' µs';
            if (ms < 100) return ms.toFixed(ms < 10 ? 2 : 1) + ' ms';
            return ms.toFixed(0) + ' ms';
          }

          const rate = (format) => (value) => format(value) + '/s';
          const fmtRate = (value) => (value >= 100 ? value.toFixed(0) : value.toFixed(value >= 10 ? 1 : 2).replace(/\.?0+$/, ''));

          // ---- API ---------------------------------------------------------------------------------

          class ApiError extends Error {
            constructor(status, code, message) {
              super(message);
              this.status = status;
              this.code = code;
            }
          }

          async function api(path, body) {
            const init = body === undefined ? { headers: { Accept: 'application/json' } } : {
              method: 'POST',
              headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
              body: JSON.stringify(body),
            };
            let response;
            try {
              response = await fetch('/api/v1' + path, init);
            } catch (error) {
              throw new ApiError(0, 'UNREACHABLE', 'The broker did not answer (' + error.message + ').');
            }
            const text = await response.text();
            let data = null;
            try {
              data = text ? JSON.parse(text) : null;
            } catch (error) {
              data = null;
            }
            if (!response.ok) {
              const code = (data && data.error) || 'HTTP ' + response.status;
              const message = (data && data.message) || text.slice(0, 300) || response.statusText;
              if (code === 'READ_ONLY') setReadOnly(true);
              throw new ApiError(response.status, code, message);
            }
            if (data === null || typeof data !== 'object') {
              throw new ApiError(response.status, 'BAD_RESPONSE', 'The answer to ' + path + ' is not JSON.');
            }
            return data;
          }

          // ---- banners -----------------------------------------------------------------------------

          function showError(error) {
            const text = error instanceof ApiError ? `${error.code}: ${error.message}` : String((error && error.message) || error);
            $('#error-text').textContent = text;
            $('#error').hidden = false;
          }

          function hideError() {
            $('#error').hidden = true;
            $('#error-text').textContent = '';
          }

          function showNotice(text) {
            const notice = $('#notice');
            notice.textContent = text || '';
            notice.hidden = !text;
          }

          // Runs an event handler, showing what fails instead of throwing.
          const guard = (handler) => async (event) => {
            try {
              await handler(event);
            } catch (error) {
              showError(error);
            }
          };

          // A form's submit: default prevented, its controls disabled while the request runs.
          function onSubmit(form, handler) {
            form.addEventListener('submit', async (event) => {
              event.preventDefault();
              const fieldset = $('fieldset', form);
              hideError();
              showNotice(null);
              if (fieldset) fieldset.disabled = true;
              try {
                await handler(event);
              } catch (error) {
                showError(error);
              } finally {
                if (fieldset) fieldset.disabled = false;
              }
            });
            return form;
          }

          // "key=value" lines into an object; blank lines and lines starting with # are skipped.
          function parsePairs(text, what) {
            const pairs = {};
            text.split('\n').forEach((raw, index) => {
              const line = raw.trim();
              if (!line || line.startsWith('#')) return;
              const at = line.indexOf('=');
              if (at <= 0) throw new Error(`${what}, line ${index + 1}: expected key=value, got "${line}"`);
              pairs[line.slice(0, at).trim()] = line.slice(at + 1).trim();
            });
            return pairs;
          }

          function setReadOnly(readOnly) {
            state.readOnly = !!readOnly;
            $('#read-only').hidden = !state.readOnly;
            document.body.classList.toggle('read-only', state.readOnly);
          }

          function noteOverview(data) {
            state.info = data;
            setReadOnly(data.http && data.http.readOnly);
            const broker = data.broker || {};
            $('#broker-badge').textContent = `node ${broker.nodeId} · ${broker.clusterId || ''} · v${broker.version || '?'}`;
          }

          async function ensureInfo() {
            if (!state.info) noteOverview(await api('/overview'));
          }

          // ---- payloads ----------------------------------------------------------------------------

          const decoder = new TextDecoder('utf-8');
          const shownBytes = 8192;

          function base64Bytes(text) {
            const binary = atob(text);
            const bytes = new Uint8Array(binary.length);
            for (let index = 0; index < binary.length; index += 1) bytes[index] = binary.charCodeAt(index);
            return bytes;
          }

          const hex = (bytes) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join(' ');

          // A base64 payload shown as text, JSON (pretty when it parses) or hex.
          function payload(encoded, mode) {
            if (encoded === null || encoded === undefined) return h('span', { class: 'null' }, 'null');
            let bytes;
            try {
              bytes = base64Bytes(encoded);
            } catch (error) {
              return h('span', { class: 'null', title: 'not base64' }, String(encoded));
            }
            if (bytes.length === 0) return h('span', { class: 'null' }, 'empty');
            const cut = bytes.length > shownBytes;
            const shown = cut ? bytes.subarray(0, shownBytes) : bytes;
            const more = cut ? h('div', { class: 'note' }, `… ${fmtInt(bytes.length)} bytes in all`) : null;
            if (mode === 'hex') return [h('pre', { class: 'payload', 'data-format': 'hex' }, hex(shown)), more];
            const text = decoder.decode(shown);
            if (mode === 'json' && !cut) {
              try {
                const pretty = JSON.stringify(JSON.parse(text), null, 2);
                return h('pre', { class: 'payload json', 'data-format': 'json' }, pretty);
              } catch (error) {
                // Not JSON: shown as text below.
              }
            }
            return [h('pre', { class: 'payload', 'data-format': 'text' }, text), more];
          }

          // ---- charts ------------------------------------------------------------------------------

          const chartWindowMs = 120000;

          // A round axis top at or above value: 1, 2, 5 or 10 times a power of ten (of 1024 for bytes).
          function niceCeiling(value, binary) {
            if (!(value > 0)) return binary ? 1024 : 1;
            if (binary && value >= 1024) {
              const scale = Math.pow(1024, Math.floor(Math.log(value) / Math.log(1024)));
              return niceCeiling(value / scale, false) * scale;
            }
            const power = Math.pow(10, Math.floor(Math.log10(value)));
            const mantissa = value / power;
            return (mantissa <= 1 ? 1 : mantissa <= 2 ? 2 : mantissa <= 5 ? 5 : 10) * power;
          }

          function makeChart(id, title, format, binary = false) {
            const canvas = h('canvas', { id, 'data-testid': id, width: 600, height: 170, role: 'img', 'aria-label': title });
            const legend = h('div', { class: 'legend' });
            return { node: h('div', { class: 'chart' }, h('h3', {}, title), canvas, legend), canvas, legend, format, binary };
          }

          // Lines over the last two minutes: series = [{name, color, points: [{t, v}]}], v null = a gap.
          function drawChart(chart, series, now) {
            const { canvas } = chart;
            const ratio = window.devicePixelRatio || 1;
            const width = canvas.clientWidth || 600;
            const height = canvas.clientHeight || 170;
            canvas.width = Math.round(width * ratio);
            canvas.height = Math.round(height * ratio);
            const g = canvas.getContext('2d');
            if (!g) return;
            g.setTransform(ratio, 0, 0, ratio, 0, 0);
            g.clearRect(0, 0, width, height);
            const pad = { left: 70, right: 10, top: 8, bottom: 20 };
            const plotWidth = width - pad.left - pad.right;
            const plotHeight = height - pad.top - pad.bottom;
            const start = now - chartWindowMs;
            const values = series.flatMap((line) => line.points.filter((p) => p.v !== null && p.t >= start).map((p) => p.v));
            const top = niceCeiling(Math.max(0, ...values) * 1.05, chart.binary);
            const x = (t) => pad.left + ((t - start) / chartWindowMs) * plotWidth;
            const y = (v) => pad.top + plotHeight * (1 - v / top);
            g.font = '11px system-ui, sans-serif';
            g.lineWidth = 1;
            for (let step = 0; step <= 4; step += 1) {
              const at = Math.round(y((top * step) / 4)) + 0.5;
              g.strokeStyle = step === 0 ? '#cfd6e1' : '#eef0f4';
              g.beginPath();
              g.moveTo(pad.left, at);
              g.lineTo(width - pad.right, at);
              g.stroke();
              g.fillStyle = '#667085';
              g.textAlign = 'right';
              g.textBaseline = 'middle';
              g.fillText(chart.format((top * step) / 4), pad.left - 6, at);
            }
            g.textBaseline = 'alphabetic';
            [[0, '−2 min', 'left'], [0.5, '−1 min', 'center'], [1, 'now', 'right']].forEach(([share, label, align]) => {
              g.textAlign = align;
              g.fillText(label, pad.left + share * plotWidth, height - 5);
            });
            let drawn = 0;
            g.lineWidth = 1.8;
            g.lineJoin = 'round';
            for (const line of series) {
              g.strokeStyle = line.color;
              g.fillStyle = line.color;
              g.beginPath();
              let pen = false;
              let last = null;
              for (const point of line.points) {
                if (point.v === null || point.t < start) {
                  pen = false;
                  continue;
                }
                if (pen) g.lineTo(x(point.t), y(point.v));
                else g.moveTo(x(point.t), y(point.v));
                pen = true;
                last = point;
                drawn += 1;
              }
              g.stroke();
              if (last) {
                g.beginPath();
                g.arc(x(last.t), y(last.v), 2.5, 0, 2 * Math.PI);
                g.fill();
              }
            }
            if (!drawn) {
              g.fillStyle = '#98a2b3';
              g.textAlign = 'center';
              g.fillText('collecting samples (every 2 s)…', pad.left + plotWidth / 2, pad.top + plotHeight / 2);
            }
            canvas.dataset.points = String(drawn);
            chart.legend.replaceChildren(...series.map((line) => {
              const last = line.points.filter((p) => p.v !== null).pop();
              return h('span', {}, h('span', { class: 'swatch', style: 'background:' + line.color }), line.name + ' ',
                h('span', { class: 'mono muted' }, last ? chart.format(last.v) : '—'));
            }));
          }

          // The overview's cumulative counters as one sample; the charts plot differences between samples.
          function sample(data) {
            const latency = {};
            for (const entry of data.latency || []) {
              const sum = (entry.handlerSecondsSum || 0) + (entry.queueSecondsSum || 0) + (entry.sendSecondsSum || 0);
              latency[entry.api] = { requests: entry.requests || 0, seconds: sum };
            }
            const totals = data.totals || {};
            return {
              t: Date.now(), uptime: data.broker && data.broker.uptimeMs, started: data.broker && data.broker.startedAtMs,
              bytesIn: totals.bytesIn || 0, bytesOut: totals.bytesOut || 0, messagesIn: totals.messagesIn || 0,
              messagesOut: totals.messagesOut || 0, latency,
            };
          }

          function record(data) {
            const next = sample(data);
            const previous = state.history[state.history.length - 1];
            const restarted = previous && (previous.started !== next.started || next.uptime < previous.uptime);
            if (restarted) state.history = [];
            state.history.push(next);
            state.history = state.history.filter((entry) => entry.t >= next.t - chartWindowMs - 5000).slice(-61);
          }

          function chartSeries() {
            const history = state.history;
            const pairs = history.slice(1).map((entry, index) => [history[index], entry]);
            const perSecond = (key) => pairs.map(([before, after]) => {
              const seconds = (after.t - before.t) / 1000;
              return { t: after.t, v: seconds > 0 ? Math.max(0, (after[key] - before[key]) / seconds) : null };
            });
            const apis = new Map();
            for (const [before, after] of pairs) {
              for (const [name, now] of Object.entries(after.latency)) {
                const then = before.latency[name] || { requests: 0, seconds: 0 };
                const requests = now.requests - then.requests;
                const points = apis.get(name) || { requests: 0, points: [] };
                points.requests += Math.max(0, requests);
                points.points.push({ t: after.t, v: requests > 0 ? Math.max(0, now.seconds - then.seconds) / requests : null });
                apis.set(name, points);
              }
            }
            const busiest = [...apis.entries()].filter(([, entry]) => entry.requests > 0)
              .sort((a, b) => b[1].requests - a[1].requests).slice(0, palette.length);
            return {
              bytes: [
                { name: 'in', color: palette[0], points: perSecond('bytesIn') },
                { name: 'out', color: palette[1], points: perSecond('bytesOut') },
              ],
              messages: [
                { name: 'messages in', color: palette[2], points: perSecond('messagesIn') },
                { name: 'messages out', color: palette[3], points: perSecond('messagesOut') },
              ],
              latency: busiest.map(([name, entry], index) => ({ name, color: palette[index], points: entry.points })),
            };
          }

          // ---- pages -------------------------------------------------------------------------------

          async function overviewPage(view) {
            const info = h('dl', { id: 'overview-info', class: 'facts' });
            const totals = h('div', { id: 'overview-totals', class: 'cards' });
            const latencyBox = h('div', { id: 'latency' });
            const charts = {
              bytes: makeChart('chart-bytes', 'Throughput (bytes per second)', rate(fmtBytes), true),
              messages: makeChart('chart-messages', 'Messages in per second', (v) => fmtRate(v) + '/s'),
              latency: makeChart('chart-latency', 'Mean latency per API (handler + queue + send)', (v) => fmtSeconds(v)),
            };
            const chartBox = h('div', { id: 'overview-charts', 'data-testid': 'overview-charts', class: 'charts', 'data-samples': 0 },
              charts.bytes.node, charts.messages.node, charts.latency.node);

            const render = (data) => {
              const broker = data.broker || {};
              const listeners = (data.listeners || []).map((listener) =>
                h('div', {}, `${listener.name} ${listener.host}:${listener.port} (${listener.securityProtocol})`));
              info.replaceChildren(
                h('dt', {}, 'Node id'), h('dd', { id: 'broker-node-id' }, String(broker.nodeId)),
                h('dt', {}, 'Cluster id'), h('dd', { id: 'cluster-id' }, broker.clusterId || ''),
                h('dt', {}, 'Version'), h('dd', { id: 'broker-version' }, broker.version || ''),
                h('dt', {}, 'Listeners'), h('dd', { id: 'listeners' }, listeners),
                h('dt', {}, 'Started'), h('dd', {}, fmtTime(broker.startedAtMs)),
                h('dt', {}, 'Uptime'), h('dd', { id: 'uptime' }, fmtDuration(broker.uptimeMs)),
                h('dt', {}, 'Console'), h('dd', {}, data.http && data.http.readOnly ? 'read-only' : 'read-write'));
              const t = data.totals || {};
              const cards = [['topics', 'Topics', fmtInt], ['partitions', 'Partitions', fmtInt], ['groups', 'Groups', fmtInt],
                ['connections', 'Connections', fmtInt], ['openTransactions', 'Open transactions', fmtInt],
                ['requests', 'Requests', fmtInt], ['messagesIn', 'Messages in', fmtInt], ['messagesOut', 'Messages out', fmtInt],
                ['bytesIn', 'Bytes in', fmtBytes], ['bytesOut', 'Bytes out', fmtBytes]];
              totals.replaceChildren(...cards.map(([key, label, format]) => h('div', { class: 'card', id: 'total-' + key },
                h('div', { class: 'label' }, label), h('div', { class: 'value' }, format(t[key] ?? 0)))));
              const rows = (data.latency || []).filter((entry) => entry.requests > 0)
                .sort((a, b) => b.requests - a.requests)
                .map((entry) => {
                  const mean = (sum) => fmtSeconds((sum || 0) / entry.requests);
                  return h('tr', { 'data-api': entry.api }, h('td', {}, entry.api), num(fmtInt(entry.requests)),
                    num(mean(entry.queueSecondsSum)), num(mean(entry.handlerSecondsSum)), num(mean(entry.sendSecondsSum)));
                });
              latencyBox.replaceChildren(table('latency-table', ['API', { label: 'Requests', num: true },
                { label: 'Mean queue', num: true }, { label: 'Mean handler', num: true }, { label: 'Mean send', num: true }],
              rows, 'No requests yet.'));
            };

            const redraw = () => {
              const series = chartSeries();
              const now = state.history.length ? state.history[state.history.length - 1].t : Date.now();
              drawChart(charts.bytes, series.bytes, now);
              drawChart(charts.messages, series.messages, now);
              drawChart(charts.latency, series.latency, now);
              chartBox.dataset.samples = String(state.history.length);
            };

            const poll = async () => {
              try {
                const data = await api('/overview');
                if (!view.live()) return;
                noteOverview(data);
                record(data);
                render(data);
                redraw();
              } catch (error) {
                if (view.live()) showError(error);
              }
              if (view.live()) view.later(poll, 2000);
            };

            const first = await api('/overview');
            noteOverview(first);
            record(first);
            render(first);
            view.mounted(() => {
              state.redraw = redraw;
              redraw();
              view.later(poll, 2000);
            });
            return h('div', {}, h('h1', {}, 'Overview'), h('div', { class: 'overview-top' },
              h('section', {}, h('h2', {}, 'Broker'), info), h('section', {}, h('h2', {}, 'Totals'), totals)),
            h('h2', {}, 'Live'), chartBox, h('h2', {}, 'Requests by API since start'), latencyBox);
          }

          async function topicsPage() {
            const data = await api('/topics');
            const rows = (data.topics || []).slice().sort((a, b) => a.name.localeCompare(b.name)).map((topic) =>
              h('tr', { 'data-topic': topic.name },
                h('td', {}, h('a', { href: '#/topics/' + enc(topic.name) }, topic.name),
                  topic.internal ? [' ', badge('internal', 'internal')] : null),
                num(fmtInt(topic.partitions)), num(fmtInt(topic.messages)), num(fmtBytes(topic.sizeBytes))));
            const form = writable(() => onSubmit(h('form', { id: 'create-topic-form', 'data-testid': 'create-topic-form',
              class: 'panel' }, h('fieldset', {},
              h('div', { class: 'inline' },
                h('label', { class: 'grow' }, 'Name', h('input', { id: 'new-topic-name', name: 'name', required: true,
                  pattern: '[A-Za-z0-9._\\-]+', maxlength: 249, placeholder: 'orders' })),
                h('label', {}, 'Partitions', h('input', { id: 'new-topic-partitions', name: 'partitions', type: 'number',
                  min: 1, value: 1, required: true }))),
              h('label', { style: 'margin-top:8px' }, 'Configs (optional, one key=value a line)',
                h('textarea', { id: 'new-topic-configs', name: 'configs', rows: 3,
                  placeholder: 'cleanup.policy=compact\nretention.ms=86400000' })),
              h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary', id: 'create-topic' }, 'Create topic')))),
            async () => {
              const name = $('#new-topic-name').value.trim();
              const partitions = Number($('#new-topic-partitions').value);
              const configs = parsePairs($('#new-topic-configs').value, 'Configs');
              await api('/topics', { name, partitions, configs });
              state.notice = `Created topic ${name}.`;
              location.hash = '#/topics/' + enc(name);
            }));
            return h('div', {}, h('h1', {}, 'Topics'),
              table('topics-table', ['Name', { label: 'Partitions', num: true }, { label: 'Messages', num: true },
                { label: 'Size', num: true }], rows, 'No topics yet.'),
              form ? [h('h2', {}, 'Create a topic'), form] : null);
          }

          function crumbs(...parts) {
            return h('div', { class: 'crumbs' }, parts.map((part, index) => [index ? ' / ' : '', part]));
          }

          async function topicPage(view, name) {
            const topic = await api('/topics/' + enc(name));
            const path = '/topics/' + enc(name);
            const partitions = (topic.partitions || []).map((p) => h('tr', { 'data-partition': p.partition },
              num(p.partition), num(p.logStartOffset), num(p.logEndOffset), num(p.highWatermark), num(p.lastStableOffset),
              num(fmtBytes(p.sizeBytes)), num(p.segments)));

            const setConfigs = async (configs, message) => {
              await api(path + '/configs', { configs });
              state.notice = message;
              await route();
            };
            const configRow = (config) => {
              const valueCell = h('td', { class: 'config-value mono' }, config.value ?? h('span', { class: 'null' }, 'null'));
              const actions = h('div', { class: 'actions' });
              const row = h('tr', { 'data-config': config.name, 'data-default': config.isDefault ? 'true' : 'false' },
                h('td', { class: 'mono' }, config.name), valueCell,
                h('td', {}, config.isDefault ? h('span', { class: 'muted' }, 'default') : badge('override', 'state')),
                h('td', {}, actions));
              const showButtons = () => {
                if (state.readOnly) return;
                const reset = h('button', { type: 'button', class: 'small config-reset', title: 'Back to the default',
                  onclick: guard(() => setConfigs({ [config.name]: null }, `Reset ${config.name} to its default.`)) }, 'Reset');
                actions.replaceChildren(h('button', { type: 'button', class: 'small config-edit', onclick: edit }, 'Edit'),
                  ...(config.isDefault ? [] : [reset]));
              };
              const edit = () => {
                const input = h('input', { class: 'config-input', value: config.value ?? '', 'aria-label': config.name });
                const save = guard(() => setConfigs({ [config.name]: input.value }, `Set ${config.name} to ${input.value}.`));
                const cancel = () => {
                  valueCell.replaceChildren(config.value ?? '');
                  showButtons();
                };
                input.addEventListener('keydown', (event) => {
                  if (event.key === 'Enter') save();
                  if (event.key === 'Escape') cancel();
                });
                valueCell.replaceChildren(input);
                actions.replaceChildren(h('button', { type: 'button', class: 'small primary config-save', onclick: save }, 'Save'),
                  h('button', { type: 'button', class: 'small config-cancel', onclick: cancel }, 'Cancel'));
                input.focus();
              };
              showButtons();
              return row;
            };
            const configs = (topic.configs || []).slice().sort((a, b) => a.name.localeCompare(b.name)).map(configRow);
            const addConfig = writable(() => onSubmit(h('form', { id: 'add-config-form', class: 'panel' }, h('fieldset', {},
              h('div', { class: 'inline' },
                h('label', {}, 'Config', h('input', { id: 'add-config-name', required: true, placeholder: 'retention.ms' })),
                h('label', { class: 'grow' }, 'Value', h('input', { id: 'add-config-value', required: true })),
                h('button', { type: 'submit' }, 'Set')))),
            () => {
              const key = $('#add-config-name').value.trim();
              const value = $('#add-config-value').value;
              return setConfigs({ [key]: value }, `Set ${key} to ${value}.`);
            }));
            const remove = writable(() => h('button', { type: 'button', id: 'delete-topic', 'data-testid': 'delete-topic',
              class: 'danger', onclick: guard(async () => {
                if (!window.confirm(`Delete topic "${name}" and all its messages?`)) return;
                await api(path + '/delete', {});
                state.notice = `Deleted topic ${name}.`;
                location.hash = '#/topics';
              }) }, 'Delete topic'));

            return h('div', {}, crumbs(h('a', { href: '#/topics' }, 'Topics'), name),
              h('h1', {}, topic.name, topic.internal ? [' ', badge('internal', 'internal')] : null),
              h('div', { class: 'toolbar' }, h('span', { class: 'muted' }, 'Topic id ', mono(topic.topicId || '')),
                h('span', { class: 'spacer' }),
                h('a', { id: 'messages-link', 'data-testid': 'messages-link', href: '#' + path + '/messages' }, 'Browse messages →'),
                remove),
              h('h2', {}, 'Partitions'),
              table('partitions-table', ['Partition', 'Log start', 'Log end', 'High watermark', 'Last stable', 'Size', 'Segments']
                .map((label) => ({ label, num: true })), partitions, 'No partitions.'),
              h('h2', {}, 'Configs'),
              table('configs-table', ['Name', 'Value', 'Source', ''], configs, 'No configs.'),
              addConfig ? [h('h2', {}, 'Set a config'), addConfig] : null);
          }

          async function messagesPage(view, name) {
            const topic = await api('/topics/' + enc(name));
            const partitions = topic.partitions || [];
            const query = state.queries[name] || (state.queries[name] = {
              partition: partitions.length ? partitions[0].partition : 0, seek: 'latest', offset: '', time: '', limit: 50,
            });
            let result = null;

            const select = (id, value, options, onchange) => h('select', { id, onchange },
              options.map(([optionValue, label]) => h('option', { value: optionValue, selected: String(optionValue) === String(value) },
                label)));
            const partitionSelect = select('msg-partition', query.partition, partitions.map((p) =>
              [p.partition, `${p.partition}  (${p.logStartOffset}–${p.highWatermark})`]));
            const offsetInput = h('input', { id: 'msg-offset', type: 'number', min: 0, value: query.offset, placeholder: '0' });
            const timeInput = h('input', { id: 'msg-timestamp', type: 'datetime-local', step: 1, value: query.time });
            const offsetLabel = h('label', {}, 'Offset', offsetInput);
            const timeLabel = h('label', {}, 'Time (local)', timeInput);
            const showSeek = () => {
              offsetLabel.hidden = seekSelect.value !== 'offset';
              timeLabel.hidden = seekSelect.value !== 'timestamp';
            };
            const seekSelect = select('msg-seek', query.seek,
              [['latest', 'Latest records'], ['offset', 'From an offset'], ['timestamp', 'From a time']], showSeek);
            const limitInput = h('input', { id: 'msg-limit', type: 'number', min: 1, max: 500, value: query.limit });
            const showSelect = select('msg-show', state.showAs, [['text', 'Text'], ['json', 'JSON'], ['hex', 'Hex']], () => {
              state.showAs = showSelect.value;
              renderRecords();
            });
            const summary = h('span', { id: 'msg-range', class: 'muted' });
            const older = h('button', { type: 'button', id: 'msg-older', disabled: true }, '← Older');
            const newer = h('button', { type: 'button', id: 'msg-newer', disabled: true }, 'Newer →');
            const tableBox = h('div', { id: 'messages' });

            const load = async () => {
              query.partition = Number(partitionSelect.value);
              query.seek = seekSelect.value;
              query.offset = offsetInput.value;
              query.time = timeInput.value;
              query.limit = Math.min(500, Math.max(1, Number(limitInput.value) || 50));
              const params = new URLSearchParams({ partition: query.partition, limit: query.limit });
              if (query.seek === 'offset') {
                if (query.offset === '') throw new Error('Enter the offset to start from.');
                params.set('offset', query.offset);
              } else if (query.seek === 'timestamp') {
                const ms = new Date(query.time).getTime();
                if (!query.time || Number.isNaN(ms)) throw new Error('Enter the time to start from.');
                params.set('timestamp', ms);
              }
              const data = await api(`/topics/${enc(name)}/messages?${params}`);
              if (!view.live()) return;
              result = data;
              renderRecords();
            };
            const jump = (offset) => guard(async () => {
              seekSelect.value = 'offset';
              offsetInput.value = String(offset());
              showSeek();
              hideError();
              await load();
            });
            older.addEventListener('click', jump(() => {
              const first = result.records[0].offset;
              return Math.max(result.logStartOffset, first - Number(limitInput.value || 50));
            }));
            newer.addEventListener('click', jump(() => result.records[result.records.length - 1].offset + 1));

            function renderRecords() {
              if (!result) return;
              const records = result.records || [];
              const mode = state.showAs;
              const rows = records.map((r) => {
                const details = [
                  r.control ? badge(r.control, r.control === 'ABORT' ? 'abort control' : 'commit control') : null,
                  r.transactional ? badge('transactional', 'txn') : null,
                  r.compression && r.compression !== 'none' ? badge(r.compression, 'codec') : null,
                  r.producerId >= 0 ? h('div', { class: 'small muted mono' }, `producer ${r.producerId} epoch ${r.producerEpoch}`)
                    : null,
                ];
                const headers = (r.headers || []).map((header) => h('li', {}, h('span', { class: 'mono' }, header.key + ': '),
                  payload(header.value, mode === 'hex' ? 'hex' : 'text')));
                const marker = (text) => h('span', { class: 'null' }, text);
                return h('tr', { 'data-offset': r.offset, class: r.control ? 'control' : '' },
                  num(r.offset, { class: 'num offset' }), h('td', { class: 'mono timestamp' }, fmtTime(r.timestamp)),
                  h('td', { class: 'key' }, r.control ? marker('control record') : payload(r.key, mode)),
                  h('td', { class: 'value' }, r.control ? marker(r.control === 'ABORT' ? 'transaction aborted' : 'transaction committed')
                    : payload(r.value, mode)),
                  h('td', { class: 'headers' }, headers.length ? h('ul', { class: 'plain' }, headers) : ''),
                  h('td', { class: 'details' }, details));
              });
              tableBox.replaceChildren(table('messages-table', [{ label: 'Offset', num: true }, 'Timestamp', 'Key', 'Value',
                'Headers', ''], rows, 'No records here.'));
              const range = records.length ? `offsets ${records[0].offset}–${records[records.length - 1].offset}` : 'no records';
              summary.textContent = `Partition ${result.partition}: log start ${result.logStartOffset}, ` +
                `high watermark ${result.highWatermark}; showing ${range}.`;
              older.disabled = !records.length || records[0].offset <= result.logStartOffset;
              newer.disabled = !records.length || records[records.length - 1].offset + 1 >= result.highWatermark;
            }

            const queryForm = onSubmit(h('form', { id: 'messages-query', class: 'panel' }, h('fieldset', { class: 'inline' },
              h('label', {}, 'Partition', partitionSelect), h('label', {}, 'Seek', seekSelect), offsetLabel, timeLabel,
              h('label', {}, 'Limit', limitInput), h('button', { type: 'submit', class: 'primary', id: 'msg-load' }, 'Load'),
              h('label', {}, 'Show as', showSelect))), load);
            showSeek();

            const produce = writable(() => onSubmit(h('form', { id: 'produce-form', 'data-testid': 'produce-form', class: 'panel' },
              h('fieldset', {},
                h('div', { class: 'inline' },
                  h('label', {}, 'Partition', h('input', { id: 'produce-partition', type: 'number', min: 0,
                    placeholder: 'any' })),
                  h('label', { class: 'grow' }, 'Key (empty: null)', h('input', { id: 'produce-key' }))),
                h('label', { style: 'margin-top:8px' }, 'Value', h('textarea', { id: 'produce-value', rows: 3 })),
                h('label', { style: 'margin-top:8px' }, 'Headers (one key=value a line)',
                  h('textarea', { id: 'produce-headers', rows: 2 })),
                h('div', { class: 'toolbar' }, h('button', { type: 'submit', class: 'primary', id: 'produce-submit' }, 'Produce')))),
            async () => {
              const body = {
                key: $('#produce-key').value === '' ? null : $('#produce-key').value,
                value: $('#produce-value').value,
                headers: parsePairs($('#produce-headers').value, 'Headers'),
              };
              const partition = $('#produce-partition').value.trim();
              if (partition !== '') body.partition = Number(partition);
              const answer = await api(`/topics/${enc(name)}/messages`, body);
              $('#produce-value').value = '';
              showNotice(`Produced to partition ${answer.partition} at offset ${answer.offset}.`);
              if (view.live()) {
                partitionSelect.value = String(answer.partition);
                seekSelect.value = 'latest';
                showSeek();
                await load();
              }
            }));

            view.mounted(guard(load));
            return h('div', {}, crumbs(h('a', { href: '#/topics' }, 'Topics'), h('a', { href: '#/topics/' + enc(name) }, name),
              'Messages'), h('h1', {}, 'Messages in ', mono(name)), queryForm,
            h('div', { class: 'toolbar' }, summary, h('span', { class: 'spacer' }), older, newer), tableBox,
            produce ? [h('h2', {}, 'Produce a test message'), produce] : null);
          }

          async function groupsPage() {
            const data = await api('/groups');
            const rows = (data.groups || []).slice().sort((a, b) => a.groupId.localeCompare(b.groupId)).map((group) =>
              h('tr', { 'data-group': group.groupId },
                h('td', {}, h('a', { href: '#/groups/' + enc(group.groupId) }, group.groupId)),
                h('td', {}, badge(group.state, 'state')), h('td', {}, group.protocolType || ''), h('td', {}, group.protocol || ''),
                num(fmtInt(group.members)), num(fmtInt(group.lag), { class: 'num lag' })));
            return h('div', {}, h('h1', {}, 'Consumer groups'), table('groups-table', ['Group', 'State', 'Protocol type',
              'Protocol', { label: 'Members', num: true }, { label: 'Lag', num: true }], rows, 'No groups.'));
          }

          async function groupPage(view, id) {
            const group = await api('/groups/' + enc(id));
            const members = group.members || [];
            const offsets = (group.offsets || []).slice()
              .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
            const memberRows = members.map((member) => h('tr', { 'data-member': member.memberId },
              h('td', { class: 'mono' }, member.memberId), h('td', {}, member.clientId), h('td', { class: 'mono' }, member.clientHost),
              h('td', {}, (member.assignments || []).map((a) => h('div', {}, mono(`${a.topic}: ${a.partitions.join(', ')}`))))));
            const offsetRows = offsets.map((o) => h('tr', { 'data-topic': o.topic, 'data-partition': o.partition },
              h('td', {}, h('a', { href: '#/topics/' + enc(o.topic) }, o.topic)), num(o.partition),
              num(o.committedOffset, { class: 'num committed' }), num(o.highWatermark), num(o.lag, { class: 'num lag' }),
              h('td', { class: 'mono' }, o.metadata || '')));
            const totalLag = offsets.reduce((sum, o) => sum + (o.lag > 0 ? o.lag : 0), 0);

            const reset = writable(() => {
              const topics = [...new Set(offsets.map((o) => o.topic))];
              const toSelect = h('select', { id: 'reset-to' }, [['earliest', 'Earliest'], ['latest', 'Latest'], ['offset', 'Offset']]
                .map(([value, label]) => h('option', { value }, label)));
              const offsetInput = h('input', { id: 'reset-offset', type: 'number', min: 0, placeholder: 'offset', hidden: true });
              toSelect.addEventListener('change', () => {
                offsetInput.hidden = toSelect.value !== 'offset';
              });
              const busy = members.length > 0;
              const form = h('form', { id: 'reset-form', 'data-testid': 'reset-form', class: 'panel' },
                busy ? h('p', { id: 'reset-note', class: 'note' },
                  `The group has ${members.length} active member(s): stop its consumers to reset its offsets.`) : null,
                h('fieldset', { disabled: busy, class: 'inline' },
                  h('label', {}, 'Topic', h('select', { id: 'reset-topic' }, h('option', { value: '' }, 'All committed topics'),
                    topics.map((topic) => h('option', { value: topic }, topic)))),
                  h('label', {}, 'To', toSelect), offsetInput,
                  h('button', { type: 'submit', class: 'primary', id: 'reset-submit' }, 'Reset offsets')));
              return onSubmit(form, async () => {
                const body = { to: toSelect.value };
                if (toSelect.value === 'offset') {
                  if (offsetInput.value === '') throw new Error('Enter the offset to reset to.');
                  body.to = Number(offsetInput.value);
                }
                const topic = $('#reset-topic').value;
                if (topic) body.topic = topic;
                const answer = await api(`/groups/${enc(id)}/reset-offsets`, body);
                state.notice = `Reset ${(answer.offsets || []).length} offset(s) of group ${id}.`;
                await route();
              });
            });

            return h('div', {}, crumbs(h('a', { href: '#/groups' }, 'Consumer groups'), id), h('h1', {}, 'Group ', mono(id)),
              h('dl', { id: 'group-summary', class: 'facts' },
                h('dt', {}, 'State'), h('dd', { id: 'group-state' }, group.state),
                h('dt', {}, 'Protocol type'), h('dd', {}, group.protocolType || '—'),
                h('dt', {}, 'Protocol'), h('dd', {}, group.protocol || '—'),
                h('dt', {}, 'Members'), h('dd', {}, String(members.length)),
                h('dt', {}, 'Total lag'), h('dd', { id: 'group-total-lag' }, String(totalLag))),
              h('h2', {}, 'Members'),
              table('group-members', ['Member id', 'Client id', 'Host', 'Assignments'], memberRows, 'No members.'),
              h('h2', {}, 'Committed offsets'),
              table('group-offsets', ['Topic', { label: 'Partition', num: true }, { label: 'Committed', num: true },
                { label: 'High watermark', num: true }, { label: 'Lag', num: true }, 'Metadata'], offsetRows, 'No committed offsets.'),
              reset ? [h('h2', {}, 'Reset offsets'), reset] : null);
          }

          async function transactionsPage() {
            const data = await api('/transactions');
            const transactions = (data.transactions || []).map((t) => h('tr', { 'data-transactional-id': t.transactionalId },
              h('td', { class: 'mono' }, t.transactionalId), num(t.producerId), num(t.producerEpoch),
              h('td', {}, badge(t.state, 'state')), num(fmtDuration(t.timeoutMs)),
              h('td', { class: 'mono' }, (t.partitions || []).map((p) => `${p.topic}-${p.partition}`).join(', '))));
            const producers = (data.producers || []).map((p) => h('tr', {},
              h('td', {}, h('a', { href: '#/topics/' + enc(p.topic) }, p.topic)), num(p.partition), num(p.producerId),
              num(p.producerEpoch), num(p.lastSequence), h('td', { class: 'mono nowrap' }, fmtTime(p.lastTimestamp)),
              num(p.currentTransactionStartOffset >= 0 ? p.currentTransactionStartOffset : '—')));
            return h('div', {}, h('h1', {}, 'Transactions'), h('h2', {}, 'Open transactions'),
              table('transactions-table', ['Transactional id', { label: 'Producer id', num: true }, { label: 'Epoch', num: true },
                'State', { label: 'Timeout', num: true }, 'Partitions'], transactions, 'No open transactions.'),
              h('h2', {}, 'Producers'),
              table('producers-table', ['Topic', { label: 'Partition', num: true }, { label: 'Producer id', num: true },
                { label: 'Epoch', num: true }, { label: 'Last sequence', num: true }, 'Last timestamp',
                { label: 'Open transaction from', num: true }], producers, 'No producer state.'));
          }

          async function clientsPage() {
            const data = await api('/clients');
            const now = Date.now();
            const clients = (data.clients || []).map((c) => h('tr', { 'data-client-id': c.clientId || '' },
              h('td', { class: 'mono' }, c.connection ?? '—'), h('td', {}, c.listener), h('td', { class: 'mono nowrap' }, c.peer),
              h('td', { class: 'mono' }, c.principal), h('td', { class: 'nowrap' }, c.clientId || ''),
              h('td', {}, [c.softwareName, c.softwareVersion].filter(Boolean).join(' ')),
              h('td', { class: 'mono nowrap', title: fmtTime(c.connectedAtMs) }, fmtDuration(now - c.connectedAtMs) + ' ago'),
              num(fmtInt(c.requests))));
            const telemetry = (data.telemetry || []).map((t) => {
              const metrics = (t.metrics || []).slice().sort((a, b) => a.name.localeCompare(b.name)).map((m) => h('tr', {},
                h('td', { class: 'mono' }, m.name), num(String(m.value)),
                h('td', { class: 'mono' }, Object.entries(m.attributes || {}).map(([k, v]) => `${k}=${v}`).join(', '))));
              return h('tr', { 'data-instance': t.clientInstanceId },
                h('td', { class: 'mono' }, t.clientInstanceId), h('td', {}, t.clientId || ''), h('td', {}, t.softwareName || ''),
                h('td', { class: 'mono nowrap' }, fmtTime(t.lastPushMs)),
                h('td', {}, h('details', {}, h('summary', {}, `${metrics.length} metrics`),
                  h('table', { class: 'data inner' }, h('tbody', {}, metrics)))));
            });
            return h('div', {}, h('h1', {}, 'Clients'), h('h2', {}, 'Connections'),
              table('clients-table', ['Connection', 'Listener', 'Peer', 'Principal', 'Client id', 'Software', 'Connected',
                { label: 'Requests', num: true }], clients, 'No connections.'),
              h('h2', {}, 'Telemetry'), h('p', { class: 'note' }, 'The latest metrics each client instance pushed (KIP-714).'),
              table('telemetry-table', ['Client instance', 'Client id', 'Software', 'Last push', 'Metrics'], telemetry,
                'No client pushed telemetry.'));
          }

          async function notFoundPage(view, path) {
            return h('div', {}, h('h1', {}, 'Not found'), h('p', {}, 'Nothing at #', path, '. ', h('a', { href: '#/' }, 'Overview')));
          }

          // ---- router ------------------------------------------------------------------------------

          const routes = [
            [/^\/?$/, 'overview', 'overview', overviewPage],
            [/^\/topics\/?$/, 'topics', 'topics', topicsPage],
            [/^\/topics\/([^/]+)\/?$/, 'topic', 'topics', topicPage],
            [/^\/topics\/([^/]+)\/messages\/?$/, 'messages', 'topics', messagesPage],
            [/^\/groups\/?$/, 'groups', 'groups', groupsPage],
            [/^\/groups\/([^/]+)\/?$/, 'group', 'groups', groupPage],
            [/^\/transactions\/?$/, 'transactions', 'transactions', transactionsPage],
            [/^\/clients\/?$/, 'clients', 'clients', clientsPage],
          ];

          function decode(part) {
            try {
              return decodeURIComponent(part);
            } catch (error) {
              return part;
            }
          }

          async function route() {
            const seq = ++state.seq;
            clearTimeout(state.timer);
            state.redraw = null;
            hideError();
            showNotice(state.notice);
            state.notice = null;
            const path = location.hash.replace(/^#/, '').split('?')[0] || '/';
            let found = [null, 'not-found', '', notFoundPage];
            let args = [path];
            for (const entry of routes) {
              const match = entry[0].exec(path);
              if (match) {
                found = entry;
                args = match.slice(1).map(decode);
                break;
              }
            }
            const [, page, section, render] = found;
            document.querySelectorAll('#nav a').forEach((link) => link.classList.toggle('active', link.dataset.route === section));
            const app = $('#app');
            delete app.dataset.page;
            const hooks = [];
            const view = {
              live: () => seq === state.seq,
              mounted: (hook) => hooks.push(hook),
              later: (fn, ms) => {
                clearTimeout(state.timer);
                state.timer = setTimeout(() => view.live() && fn(), ms);
              },
            };
            try {
              await ensureInfo();
              const node = await render(view, ...args);
              if (!view.live()) return;
              app.replaceChildren(node);
              app.dataset.page = page;
              document.title = 'Swiftlet · ' + page;
              hooks.forEach((hook) => hook());
            } catch (error) {
              if (!view.live()) return;
              app.replaceChildren(h('p', { class: 'muted' }, 'This page could not be loaded.'));
              app.dataset.page = 'failed';
              showError(error);
            }
          }

          function start() {
            $('#error-close').addEventListener('click', hideError);
            $('#refresh').addEventListener('click', () => route());
            window.addEventListener('hashchange', () => route());
            let resizing = null;
            window.addEventListener('resize', () => {
              clearTimeout(resizing);
              resizing = setTimeout(() => state.redraw && state.redraw(), 150);
            });
            window.addEventListener('unhandledrejection', (event) => {
              event.preventDefault();
              showError(event.reason);
            });
            route();
          }

          if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
          else start();
        })();
        """#
}

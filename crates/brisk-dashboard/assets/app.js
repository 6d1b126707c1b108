// Brisk dashboard front end: the live status page, the task and graph pages, and the
// self-contained performance report. Plain JS; uPlot (bundled) draws the throughput chart.
(function () {
  'use strict';
  const page = document.body.dataset.page;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

  // Distinct colours per prefix, in order of first appearance (Tableau 10, then hashed hues).
  const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
  const colours = new Map();
  function colorFor(prefix) {
    let c = colours.get(prefix);
    if (!c) {
      if (colours.size < PALETTE.length) c = PALETTE[colours.size];
      else {
        let h = 2166136261;
        for (let i = 0; i < prefix.length; i++) { h ^= prefix.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0; }
        c = `hsl(${h % 360}, 55%, 55%)`;
      }
      colours.set(prefix, c);
    }
    return c;
  }
  function bytes(n) {
    if (!n) return '0 B';
    const u = ['B', 'kB', 'MB', 'GB', 'TB']; let i = 0;
    while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
    return `${n.toFixed(n < 10 && i ? 1 : 0)} ${u[i]}`;
  }
  function secs(s) {
    if (s < 1e-3) return `${(s * 1e6).toFixed(s < 1e-5 ? 2 : 0)} µs`;
    if (s < 1) return `${(s * 1e3).toFixed(1)} ms`;
    return `${s.toFixed(2)} s`;
  }
  function setConn(text, live) { const c = $('conn'); if (c) { c.textContent = text; c.className = live ? 'live' : ''; } }

  // ---- Task stream: one row per worker thread, one rectangle per task, coloured by prefix.
  class Stream {
    constructor(canvas, legend, windowSeconds) {
      this.canvas = canvas; this.legend = legend; this.window = windowSeconds;
      this.spans = []; this.prefixes = new Set(); this.latest = 0;
    }
    add(spans) {
      for (const s of spans) { this.spans.push(s); if (!this.prefixes.has(s.prefix)) { this.prefixes.add(s.prefix); colorFor(s.prefix); } if (s.stop > this.latest) this.latest = s.stop; }
      if (this.window) {
        const cut = this.latest - 2 * this.window;
        if (this.spans.length > 40000 || (this.spans.length && this.spans[0].stop < cut)) {
          this.spans = this.spans.filter((s) => s.stop >= cut).slice(-30000);
        }
      }
    }
    draw(now) {
      const c = this.canvas; if (!c) return;
      const dpr = window.devicePixelRatio || 1;
      const nrows = new Set(this.spans.map((s) => `${s.worker} / ${s.thread}`)).size;
      const want = `${Math.max(90, Math.min(420, nrows * 22 + 30))}px`;
      if (c.style.height !== want) c.style.height = want;
      const w = c.clientWidth, h = c.clientHeight;
      if (c.width !== w * dpr || c.height !== h * dpr) { c.width = w * dpr; c.height = h * dpr; }
      const g = c.getContext('2d'); g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, w, h);
      const rows = [...new Set(this.spans.map((s) => `${s.worker} / ${s.thread}`))].sort();
      const rowOf = new Map(rows.map((r, i) => [r, i]));
      let t1 = this.window ? Math.max(now || 0, this.latest) : this.latest;
      let t0 = this.window ? t1 - this.window : Math.min(...this.spans.map((s) => s.start), t1);
      if (!(t1 > t0)) { t1 = t0 + 1; }
      const left = 110, top = 4, rh = Math.max(6, Math.min(22, (h - 24) / Math.max(rows.length, 1)));
      g.font = '11px system-ui'; g.fillStyle = '#6b7280';
      rows.forEach((r, i) => g.fillText(r, 4, top + i * rh + rh * 0.7));
      const scale = (w - left - 6) / (t1 - t0);
      for (const s of this.spans) {
        if (s.stop < t0) continue;
        const x = left + (Math.max(s.start, t0) - t0) * scale;
        const wd = Math.max(1, (s.stop - Math.max(s.start, t0)) * scale);
        g.fillStyle = s.ok ? colorFor(s.prefix) : '#ef4444';
        g.fillRect(x, top + rowOf.get(`${s.worker} / ${s.thread}`) * rh + 1, wd, rh - 2);
      }
      g.fillStyle = '#6b7280';
      g.fillText(this.window ? `last ${this.window} s` : secs(t1 - t0), left, h - 6);
      if (this.legend) {
        this.legend.innerHTML = [...this.prefixes].sort().map((p) => `<span><i style="background:${colorFor(p)}"></i>${esc(p)}</span>`).join('');
      }
    }
  }

  function barHtml(parts, total) {
    if (!total) return '<div class="bar"></div>';
    return '<div class="bar">' + parts.filter(([, n]) => n > 0)
      .map(([cls, n]) => `<span class="${cls}" style="width:${(100 * n / total).toFixed(2)}%"></span>`).join('') + '</div>';
  }

  function renderProgress(prefixes) {
    const body = document.querySelector('#progress tbody'); if (!body) return;
    body.innerHTML = prefixes.map((p) => {
      const released = Math.max(0, p.done - p.memory);
      const total = released + p.memory + p.processing + p.waiting + p.erred;
      return `<tr><td>${esc(p.prefix)}</td><td>${barHtml([['done', released], ['memory', p.memory], ['processing', p.processing], ['waiting', p.waiting], ['erred', p.erred]], total)}</td>` +
        `<td class="num">${p.waiting}</td><td class="num">${p.processing}</td><td class="num">${p.memory}</td><td class="num">${p.erred}</td><td class="num">${p.done}</td></tr>`;
    }).join('');
  }

  function renderWorkers(workers) {
    const body = document.querySelector('#workers tbody'); if (!body) return;
    body.innerHTML = workers.map((w) => {
      const limit = w.memory_limit || (w.memory_managed + w.memory_unmanaged + w.memory_spilled) || 1;
      return `<tr class="worker"><td>${esc(w.name)}</td><td>${esc(w.address)}</td><td class="num">${w.nthreads}</td><td class="num">${w.cpu_percent.toFixed(0)}%</td>` +
        `<td>${barHtml([['managed', w.memory_managed], ['unmanaged', w.memory_unmanaged], ['spilled', w.memory_spilled]], limit)}</td>` +
        `<td class="num">${bytes(w.memory_managed)}</td><td class="num">${bytes(w.memory_unmanaged)}</td><td class="num">${bytes(w.memory_spilled)}</td>` +
        `<td class="num">${w.running}</td><td class="num">${w.ready}</td><td class="num">${bytes(w.bytes_in)}</td><td class="num">${bytes(w.bytes_out)}</td><td>${esc(w.status)}</td></tr>`;
    }).join('');
  }

  function renderTotals(t) {
    const el = $('totals'); if (!el) return;
    el.innerHTML = [['tasks known', t.tasks], ['completed', t.completed], ['erred', t.erred], ['tasks / s', t.tasks_per_second.toFixed(0)],
      ['clients', t.clients], ['results in memory', bytes(t.bytes_in_memory)]].map(([k, v]) => `<div>${k}</div><div id="total-${k.replace(/\W+/g, '-')}">${v}</div>`).join('');
  }

  function throughputChart() {
    const el = $('tput'); if (!el || typeof uPlot === 'undefined') return null;
    const data = [[], []];
    const plot = new uPlot({ width: el.clientWidth || 400, height: 160, legend: { show: false }, scales: { x: { time: false } },
      series: [{ label: 's' }, { label: 'tasks/s', stroke: '#2563eb', fill: 'rgba(37,99,235,.12)' }], axes: [{ label: 'seconds' }, { size: 60, label: 'tasks/s' }] }, data, el);
    return { push(time, v) { data[0].push(time); data[1].push(v); if (data[0].length > 300) { data[0].shift(); data[1].shift(); } plot.setData(data); } };
  }

  function status() {
    const stream = new Stream($('stream'), $('legend'), 10);
    const chart = throughputChart();
    let last = null;
    function apply(s) {
      stream.add(s.stream); renderProgress(s.prefixes); renderWorkers(s.workers); renderTotals(s.totals);
      if (chart) chart.push(s.time, s.totals.tasks_per_second);
      last = s; document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    }
    const es = new EventSource('/api/events');
    es.onopen = () => setConn('live', true);
    es.onmessage = (e) => { try { apply(JSON.parse(e.data)); } catch (err) { console.error(err); } };
    es.onerror = () => setConn('reconnecting…', false);
    (function frame() { stream.draw(last ? last.time : 0); requestAnimationFrame(frame); })();
  }

  function taskPage() {
    const key = new URLSearchParams(location.search).get('key') || '';
    async function load() {
      const r = await fetch('/api/task?key=' + encodeURIComponent(key));
      const el = $('task');
      if (!r.ok) { el.textContent = `No task ${key} is known to the scheduler.`; return; }
      const t = await r.json();
      el.classList.remove('muted');
      el.innerHTML = `<p class="explain">${esc(t.explanation)}</p><div class="kv">` +
        [['key', t.key], ['state', t.state], ['worker', t.worker || '—'], ['queued on', t.queued_on || '—'], ['priority', t.priority ?? '—'], ['size', t.nbytes == null ? '—' : bytes(t.nbytes)]]
          .map(([k, v]) => `<div>${k}</div><div>${esc(v)}</div>`).join('') + '</div>' +
        `<h2 style="margin-top:14px">Inputs</h2><table><thead><tr><th>key</th><th>state</th><th>where</th><th class="num">size</th></tr></thead><tbody>` +
        t.dependencies.map((d) => `<tr><td><a href="/task?key=${encodeURIComponent(d.key)}">${esc(d.key)}</a></td><td>${esc(d.state)}</td><td>${esc(d.workers.join(', ') || '—')}</td><td class="num">${d.nbytes == null ? '—' : bytes(d.nbytes)}</td></tr>`).join('') +
        `</tbody></table><h2 style="margin-top:14px">Needed by</h2><p>` + (t.dependents.map((k) => `<a href="/task?key=${encodeURIComponent(k)}">${esc(k)}</a>`).join(', ') || '—') + '</p>';
    }
    load(); setInterval(load, 1000);
  }

  async function graphPage() {
    const r = await fetch('/api/graph?max=400'); const g = await r.json();
    $('graphnote').textContent = g.truncated ? 'Showing the first nodes of a larger graph.' : `${g.nodes.length} tasks`;
    const depth = new Array(g.nodes.length).fill(0);
    for (let changed = true, n = 0; changed && n < g.nodes.length; n++) {
      changed = false;
      for (const [a, b] of g.edges) if (depth[b] < depth[a] + 1) { depth[b] = depth[a] + 1; changed = true; }
    }
    const cols = new Map(); g.nodes.forEach((_, i) => { const d = depth[i]; if (!cols.has(d)) cols.set(d, []); cols.get(d).push(i); });
    const pos = []; const W = 90, H = 28;
    let maxRows = 0;
    for (const [d, ids] of cols) { ids.forEach((id, j) => { pos[id] = [40 + d * W, 20 + j * H]; }); maxRows = Math.max(maxRows, ids.length); }
    const stateColor = { memory: '#3b82f6', processing: '#22c55e', waiting: '#cbd5e1', erred: '#ef4444', released: '#94a3b8', queued: '#e2e8f0' };
    const svg = [`<svg width="${60 + cols.size * W}" height="${40 + maxRows * H}">`];
    for (const [a, b] of g.edges) svg.push(`<line x1="${pos[a][0]}" y1="${pos[a][1]}" x2="${pos[b][0]}" y2="${pos[b][1]}" stroke="#cbd5e1"/>`);
    g.nodes.forEach((n, i) => svg.push(`<a href="/task?key=${encodeURIComponent(n.key)}"><circle cx="${pos[i][0]}" cy="${pos[i][1]}" r="8" fill="${stateColor[n.state] || colorFor(n.prefix)}" stroke="${colorFor(n.prefix)}" stroke-width="2"><title>${esc(n.key)} (${esc(n.state)})</title></circle></a>`));
    svg.push('</svg>'); $('graph').innerHTML = svg.join('');
  }

  function report() {
    const d = window.BRISK_REPORT;
    $('meta').innerHTML = [['title', d.title], ['duration', secs(d.duration)], ['tasks', d.spans.length], ['threads used', new Set(d.spans.map((s) => `${s.worker}/${s.thread}`)).size]]
      .concat(d.metadata || []).map(([k, v]) => `<div>${esc(k)}</div><div>${esc(v)}</div>`).join('');
    const stream = new Stream($('stream'), $('legend'), 0); stream.add(d.spans); stream.draw(0);
    window.addEventListener('resize', () => stream.draw(0));
    const busy = d.profile.reduce((a, p) => a + p.total, 0) || 1;
    document.querySelector('#profile tbody').innerHTML = d.profile.map((p) =>
      `<tr><td>${esc(p.prefix)}</td><td class="num">${p.count}</td><td class="num">${secs(p.total)}</td><td class="num">${secs(p.total / Math.max(p.count, 1))}</td><td class="num">${secs(p.max)}</td>` +
      `<td>${barHtml([['memory', p.total], ['waiting', busy - p.total]], busy)}</td></tr>`).join('');
    document.body.dataset.ready = '1';
  }

  if (page === 'status') status();
  else if (page === 'task') taskPage();
  else if (page === 'graph') graphPage();
  else if (page === 'report') report();
})();

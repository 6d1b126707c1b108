// Brisk dashboard front end: the live status page, the task and graph pages, and the
// self-contained performance report. Plain JS; uPlot (bundled) draws the throughput chart.
(function () {
  'use strict';
  const page = document.body.dataset.page;
  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const taskLink = (k, text) => `<a href="/task?key=${encodeURIComponent(k)}">${esc(text === undefined ? k : text)}</a>`;

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
  const num = (n) => Number(n).toLocaleString('en-US');
  function setConn(text, live) { const c = $('conn'); if (c) { c.textContent = text; c.className = live ? 'live' : ''; } }

  // ---- Task stream: one row per worker thread, one rectangle per task, coloured by prefix.
  class Stream {
    constructor(canvas, legend, windowSeconds) {
      this.canvas = canvas; this.legend = legend; this.window = windowSeconds;
      this.spans = []; this.prefixes = new Set(); this.latest = 0; this.hits = [];
      this.tip = null;
      if (canvas) this.hover();
    }
    add(spans) {
      for (const s of spans) {
        this.spans.push(s);
        if (!this.prefixes.has(s.prefix)) { this.prefixes.add(s.prefix); colorFor(s.prefix); this.legendDirty = true; }
        if (s.stop > this.latest) this.latest = s.stop;
      }
      if (this.window) {
        const cut = this.latest - 2 * this.window;
        if (this.spans.length > 40000 || (this.spans.length && this.spans[0].stop < cut)) {
          this.spans = this.spans.filter((s) => s.stop >= cut).slice(-30000);
        }
      }
    }
    hover() {
      const tip = document.createElement('div'); tip.className = 'tip'; tip.style.display = 'none';
      document.body.appendChild(tip); this.tip = tip;
      const find = (e) => {
        const r = this.canvas.getBoundingClientRect(); const x = e.clientX - r.left, y = e.clientY - r.top;
        let best = null;
        for (const h of this.hits) if (y >= h.y && y <= h.y + h.h && x >= h.x - 2 && x <= h.x + h.w + 2) { best = h.s; }
        return best;
      };
      this.canvas.addEventListener('mousemove', (e) => {
        const s = find(e);
        if (!s) { tip.style.display = 'none'; this.canvas.style.cursor = ''; return; }
        tip.innerHTML = `<b>${esc(s.key)}</b><br>${esc(s.worker)}, thread ${s.thread}<br>${secs(s.stop - s.start)}${s.ok ? '' : ' — <span class="bad">failed</span>'}`;
        tip.style.display = 'block'; tip.style.left = `${e.pageX + 12}px`; tip.style.top = `${e.pageY + 12}px`;
        this.canvas.style.cursor = page === 'status' ? 'pointer' : '';
      });
      this.canvas.addEventListener('mouseleave', () => { tip.style.display = 'none'; });
      if (page === 'status') this.canvas.addEventListener('click', (e) => { const s = find(e); if (s) location.href = `/task?key=${encodeURIComponent(s.key)}`; });
    }
    draw(now) {
      const c = this.canvas; if (!c) return;
      const dpr = window.devicePixelRatio || 1;
      const rows = [...new Set(this.spans.map((s) => `${s.worker}\u0000${s.thread}`))].sort();
      const rowOf = new Map(rows.map((r, i) => [r, i]));
      const rh = rows.length > 16 ? Math.max(6, Math.floor(300 / rows.length)) : 22;
      const axis = 22;
      const want = `${Math.max(80, rows.length * rh + axis + 8)}px`;
      if (c.style.height !== want) c.style.height = want;
      const w = c.clientWidth, h = c.clientHeight;
      if (c.width !== w * dpr || c.height !== h * dpr) { c.width = w * dpr; c.height = h * dpr; }
      const g = c.getContext('2d'); g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, w, h);
      let t1 = this.window ? Math.max(now || 0, this.latest) : this.latest;
      let t0 = this.window ? t1 - this.window : this.spans.reduce((m, s) => Math.min(m, s.start), t1);
      if (!(t1 > t0)) t1 = t0 + 1;
      const left = 120, top = 4, right = 8;
      const scale = (w - left - right) / (t1 - t0);
      // Row backgrounds and labels.
      g.font = '11px system-ui, sans-serif'; g.textBaseline = 'middle';
      rows.forEach((r, i) => {
        const [wk, th] = r.split('\u0000');
        if (i % 2 === 0) { g.fillStyle = '#f8fafc'; g.fillRect(left, top + i * rh, w - left - right, rh); }
        if (rh >= 10) {
          g.fillStyle = '#475569';
          const label = `${wk} · ${th}`;
          g.fillText(label.length > 20 ? label.slice(0, 19) + '…' : label, 6, top + i * rh + rh / 2);
        }
      });
      // Tasks.
      this.hits = [];
      let drawn = 0;
      for (const s of this.spans) {
        if (s.stop < t0) continue;
        const x = left + (Math.max(s.start, t0) - t0) * scale;
        const wd = Math.max(1, (s.stop - Math.max(s.start, t0)) * scale);
        const y = top + rowOf.get(`${s.worker}\u0000${s.thread}`) * rh + 1;
        g.fillStyle = s.ok ? colorFor(s.prefix) : '#dc2626';
        g.fillRect(x, y, wd, rh - 2);
        this.hits.push({ x, y, w: wd, h: rh - 2, s });
        drawn++;
      }
      // Time axis.
      const ay = top + rows.length * rh + 4;
      g.strokeStyle = '#cbd5e1'; g.beginPath(); g.moveTo(left, ay); g.lineTo(w - right, ay); g.stroke();
      g.fillStyle = '#64748b'; g.textBaseline = 'top';
      const span = t1 - t0; const raw = span / 8; const mag = Math.pow(10, Math.floor(Math.log10(raw)));
      const step = [1, 2, 5, 10].map((m) => m * mag).find((v) => v >= raw) || raw;
      for (let t = Math.ceil(t0 / step) * step; t <= t1 + 1e-9; t += step) {
        const x = left + (t - t0) * scale;
        g.beginPath(); g.moveTo(x, ay); g.lineTo(x, ay + 4); g.stroke();
        const label = this.window ? (Math.abs(t1 - t) < step / 2 ? 'now' : `−${(t1 - t).toFixed(step < 1 ? 1 : 0)} s`) : secs(t - t0).replace(/\.00 s$/, ' s');
        g.textAlign = 'center'; g.fillText(label, Math.min(Math.max(x, left + 12), w - right - 14), ay + 6);
      }
      g.textAlign = 'left';
      if (!rows.length) { g.fillStyle = '#94a3b8'; g.textBaseline = 'middle'; g.fillText('no tasks have run in the last seconds', left, top + 30); }
      c.dataset.spans = String(drawn); c.dataset.rows = String(rows.length);
      if (this.legend && this.legendDirty) {
        this.legendDirty = false;
        this.legend.innerHTML = [...this.prefixes].sort().map((p) => `<span><i style="background:${colorFor(p)}"></i>${esc(p)}</span>`).join('');
      }
    }
  }

  function barHtml(parts, total, title) {
    if (!total) return '<div class="bar"></div>';
    return `<div class="bar"${title ? ` title="${esc(title)}"` : ''}>` + parts.filter(([, n]) => n > 0)
      .map(([cls, n]) => `<span class="${cls}" style="width:${Math.min(100, 100 * n / total).toFixed(2)}%"></span>`).join('') + '</div>';
  }

  function renderProgress(prefixes) {
    const body = document.querySelector('#progress tbody'); if (!body) return;
    if (!prefixes.length) { body.innerHTML = '<tr><td colspan="7" class="muted">No tasks.</td></tr>'; return; }
    body.innerHTML = prefixes.map((p) => {
      const released = Math.max(0, p.done - p.memory);
      const total = released + p.memory + p.processing + p.waiting + p.erred;
      const title = `${p.prefix}: ${num(released)} released, ${num(p.memory)} in memory, ${num(p.processing)} processing, ${num(p.waiting)} waiting, ${num(p.erred)} erred`;
      return `<tr><td><i class="swatch" style="background:${colorFor(p.prefix)}"></i>${esc(p.prefix)}</td><td class="barcell">${barHtml([['done', released], ['memory', p.memory], ['processing', p.processing], ['waiting', p.waiting], ['erred', p.erred]], total, title)}</td>` +
        `<td class="num">${num(p.waiting)}</td><td class="num">${num(p.processing)}</td><td class="num">${num(p.memory)}</td><td class="num${p.erred ? ' bad' : ''}">${num(p.erred)}</td><td class="num">${num(p.done)}</td></tr>`;
    }).join('');
  }

  function renderWorkers(workers) {
    const body = document.querySelector('#workers tbody'); if (!body) return;
    if (!workers.length) { body.innerHTML = '<tr><td colspan="12" class="muted">No workers are connected.</td></tr>'; return; }
    body.innerHTML = workers.map((w) => {
      const used = w.memory_managed + w.memory_unmanaged;
      const limit = w.memory_limit || Math.max(...workers.map((x) => x.memory_managed + x.memory_unmanaged + x.memory_spilled), 1);
      const memTitle = `managed ${bytes(w.memory_managed)}, unmanaged ${bytes(w.memory_unmanaged)}, spilled ${bytes(w.memory_spilled)}` + (w.memory_limit ? `, limit ${bytes(w.memory_limit)}` : ', no limit');
      const cpuMax = 100 * Math.max(w.nthreads, 1);
      return `<tr class="worker"><td><b>${esc(w.name)}</b><div class="muted small">${esc(w.address)}</div></td><td class="num">${w.nthreads}</td>` +
        `<td class="barcell">${barHtml([['cpu', w.cpu_percent]], cpuMax, `${w.cpu_percent.toFixed(0)}% of ${w.nthreads} core(s)`)}<div class="small">${w.cpu_percent.toFixed(0)}%</div></td>` +
        `<td class="barcell wide">${barHtml([['managed', w.memory_managed], ['unmanaged', w.memory_unmanaged], ['spilled', w.memory_spilled]], limit, memTitle)}<div class="small">${bytes(used)}${w.memory_limit ? ` of ${bytes(w.memory_limit)}` : ''}${w.memory_spilled ? ` + ${bytes(w.memory_spilled)} on disk` : ''}</div></td>` +
        `<td class="num">${bytes(w.memory_managed)}</td><td class="num">${bytes(w.memory_unmanaged)}</td><td class="num">${bytes(w.memory_spilled)}</td>` +
        `<td class="num">${w.running}</td><td class="num">${num(w.ready)}</td><td class="num">${bytes(w.bytes_in)}</td><td class="num">${bytes(w.bytes_out)}</td><td><span class="status ${esc(w.status)}">${esc(w.status)}</span></td></tr>`;
    }).join('');
  }

  function renderTotals(t, workers) {
    const el = $('totals'); if (!el) return;
    const threads = workers.reduce((a, w) => a + w.nthreads, 0);
    el.innerHTML = [['workers', `${workers.length} (${threads} threads)`], ['tasks known', num(t.tasks)], ['completed', num(t.completed)], ['erred', num(t.erred)],
      ['tasks / s', num(Math.round(t.tasks_per_second))], ['clients', t.clients], ['results in memory', bytes(t.bytes_in_memory)]]
      .map(([k, v]) => `<div>${k}</div><div id="total-${k.replace(/\W+/g, '-')}">${v}</div>`).join('');
  }

  function throughputChart() {
    const el = $('tput'); if (!el || typeof uPlot === 'undefined') return null;
    const data = [[], []];
    const plot = new uPlot({ width: el.clientWidth || 400, height: 150, legend: { show: false }, scales: { x: { time: false } },
      series: [{ label: 's' }, { label: 'tasks/s', stroke: '#2563eb', width: 2, fill: 'rgba(37,99,235,.10)' }],
      axes: [{ label: 'seconds', size: 40, grid: { stroke: '#eef2f7' } }, { size: 64, label: 'tasks / s', grid: { stroke: '#eef2f7' } }] }, data, el);
    window.addEventListener('resize', () => plot.setSize({ width: el.clientWidth || 400, height: 150 }));
    return { push(time, v) { data[0].push(time); data[1].push(v); if (data[0].length > 240) { data[0].shift(); data[1].shift(); } plot.setData(data); } };
  }

  function status() {
    const stream = new Stream($('stream'), $('legend'), 10);
    const chart = throughputChart();
    let last = null, received = 0;
    function apply(s) {
      stream.add(s.stream); renderProgress(s.prefixes); renderWorkers(s.workers); renderTotals(s.totals, s.workers);
      if (chart) chart.push(s.time, s.totals.tasks_per_second);
      last = s; received = performance.now();
      document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    }
    const es = new EventSource('/api/events');
    es.onopen = () => setConn('live', true);
    es.onmessage = (e) => { try { apply(JSON.parse(e.data)); setConn('live', true); } catch (err) { console.error(err); } };
    es.onerror = () => setConn('reconnecting…', false);
    // Redraw the stream about 15 times a second, sliding with the scheduler's clock.
    setInterval(() => stream.draw(last ? last.time + (performance.now() - received) / 1000 : 0), 66);
    window.addEventListener('resize', () => stream.draw(last ? last.time : 0));
  }

  function taskPage() {
    const key = new URLSearchParams(location.search).get('key') || '';
    const title = $('tasktitle'); if (title) title.textContent = key;
    async function load() {
      const el = $('task');
      let r;
      try { r = await fetch('/api/task?key=' + encodeURIComponent(key)); } catch (e) { setConn('offline', false); return; }
      setConn('live', true);
      if (!r.ok) { el.innerHTML = `<p class="explain">No task <code>${esc(key)}</code> is known to the scheduler now: it finished and was forgotten, or was never submitted.</p>`; return; }
      const t = await r.json();
      el.classList.remove('muted');
      const deps = t.dependencies.length
        ? `<table><thead><tr><th>input</th><th>state</th><th>where</th><th class="num">size</th></tr></thead><tbody>` +
          t.dependencies.map((d) => `<tr><td>${taskLink(d.key)}</td><td><span class="state ${esc(d.state)}">${esc(d.state)}</span></td><td>${esc(d.workers.join(', ') || '—')}</td><td class="num">${d.nbytes == null ? '—' : bytes(d.nbytes)}</td></tr>`).join('') + '</tbody></table>'
        : '<p class="muted">none</p>';
      el.innerHTML = `<p class="explain"><span class="state ${esc(t.state)}">${esc(t.state)}</span> ${esc(t.explanation)}</p><div class="kv">` +
        [['key', esc(t.key)], ['state', esc(t.state)], ['worker', esc(t.worker || '—')], ['queued on', esc(t.queued_on || '—')], ['priority', esc(t.priority ?? '—')], ['size', t.nbytes == null ? '—' : bytes(t.nbytes)]]
          .map(([k, v]) => `<div>${k}</div><div>${v}</div>`).join('') + '</div>' +
        `<h3>Inputs (${t.dependencies.length})</h3>${deps}<h3>Needed by (${t.dependents.length})</h3><p>` + (t.dependents.map((k) => taskLink(k)).join(', ') || '<span class="muted">nothing</span>') + '</p>';
    }
    load(); setInterval(load, 1000);
  }

  function graphPage() {
    const stateColor = { memory: '#3b82f6', processing: '#22c55e', waiting: '#cbd5e1', queued: '#e2e8f0', 'no-worker': '#f59e0b', erred: '#ef4444', released: '#94a3b8' };
    const legend = $('graphlegend');
    if (legend) legend.innerHTML = Object.entries(stateColor).map(([s, c]) => `<span><i style="background:${c}"></i>${s}</span>`).join('');
    let shape = '';
    async function load() {
      let g;
      try { g = await (await fetch('/api/graph?max=400')).json(); } catch (e) { setConn('offline', false); return; }
      setConn('live', true);
      $('graphnote').textContent = !g.nodes.length ? 'The scheduler holds no tasks now.'
        : g.truncated ? `Showing ${g.nodes.length} tasks of a larger graph (this page is for small graphs).` : `${g.nodes.length} tasks`;
      const sig = g.nodes.map((n) => n.key).join('\u0000') + '|' + g.edges.length;
      if (sig === shape) {
        // Same graph: only the states change.
        g.nodes.forEach((n, i) => { const c = document.getElementById(`n${i}`); if (c) { c.setAttribute('fill', stateColor[n.state] || '#fff'); c.querySelector('title').textContent = `${n.key} (${n.state})`; } });
        return;
      }
      shape = sig;
      const depth = new Array(g.nodes.length).fill(0);
      for (let changed = true, n = 0; changed && n < g.nodes.length; n++) {
        changed = false;
        for (const [a, b] of g.edges) if (depth[b] < depth[a] + 1) { depth[b] = depth[a] + 1; changed = true; }
      }
      const cols = new Map(); g.nodes.forEach((_, i) => { const d = depth[i]; if (!cols.has(d)) cols.set(d, []); cols.get(d).push(i); });
      const W = 110, H = 26; let maxRows = 0;
      for (const ids of cols.values()) maxRows = Math.max(maxRows, ids.length);
      const pos = [];
      for (const [d, ids] of cols) { const off = (maxRows - ids.length) * H / 2; ids.forEach((id, j) => { pos[id] = [50 + d * W, 24 + off + j * H]; }); }
      const svg = [`<svg width="${100 + cols.size * W}" height="${48 + maxRows * H}">`];
      for (const [a, b] of g.edges) {
        const [x1, y1] = pos[a], [x2, y2] = pos[b]; const mx = (x1 + x2) / 2;
        svg.push(`<path d="M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}" stroke="#cbd5e1" fill="none"/>`);
      }
      g.nodes.forEach((n, i) => svg.push(`<a href="/task?key=${encodeURIComponent(n.key)}"><circle id="n${i}" cx="${pos[i][0]}" cy="${pos[i][1]}" r="8" fill="${stateColor[n.state] || '#fff'}" stroke="${colorFor(n.prefix)}" stroke-width="3"><title>${esc(n.key)} (${esc(n.state)})</title></circle></a>`));
      svg.push('</svg>'); $('graph').innerHTML = svg.join('');
      const pl = $('prefixlegend');
      if (pl) pl.innerHTML = [...new Set(g.nodes.map((n) => n.prefix))].map((p) => `<span><i class="ring" style="border-color:${colorFor(p)}"></i>${esc(p)}</span>`).join('');
    }
    load(); setInterval(load, 1000);
  }

  function report() {
    const d = window.BRISK_REPORT;
    const workers = new Set(d.spans.map((s) => s.worker));
    $('meta').innerHTML = [['title', d.title], ['duration', secs(d.duration)], ['tasks', num(d.spans.length)], ['workers', workers.size], ['threads used', new Set(d.spans.map((s) => `${s.worker}/${s.thread}`)).size]]
      .concat(d.metadata || []).map(([k, v]) => `<div>${esc(k)}</div><div>${esc(v)}</div>`).join('');
    const stream = new Stream($('stream'), $('legend'), 0); stream.add(d.spans); stream.draw(0);
    window.addEventListener('resize', () => stream.draw(0));
    const busy = d.profile.reduce((a, p) => a + p.total, 0) || 1;
    document.querySelector('#profile tbody').innerHTML = d.profile.map((p) =>
      `<tr><td><i class="swatch" style="background:${colorFor(p.prefix)}"></i>${esc(p.prefix)}</td><td class="num">${num(p.count)}</td><td class="num">${secs(p.total)}</td><td class="num">${secs(p.total / Math.max(p.count, 1))}</td><td class="num">${secs(p.max)}</td>` +
      `<td class="barcell">${barHtml([['share', p.total]], busy)}<div class="small">${(100 * p.total / busy).toFixed(1)}%</div></td></tr>`).join('');
    document.body.dataset.ready = '1';
  }

  if (page === 'status') status();
  else if (page === 'task') taskPage();
  else if (page === 'graph') graphPage();
  else if (page === 'report') report();
})();

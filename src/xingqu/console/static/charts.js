/* Small SVG charts of the console: a line chart of several series, horizontal bars (with a reference
   line, e.g. TGI 100), a funnel and stacked columns. Inline SVG, sized by the viewBox, no library. */
"use strict";
const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const COLORS = ["#fe2c55", "#2563eb", "#16a34a", "#f59e0b", "#7c3aed", "#0891b2", "#db2777", "#64748b"];
  const s = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = (w, h, label) => s("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": label || "" });
  const nice = (max) => {
    if (max <= 0) return 4;
    const p = 10 ** Math.floor(Math.log10(max));
    return [1, 2, 2.5, 5, 10].map((m) => m * p).find((v) => v >= max);
  };
  function legend(box, names) {
    const l = document.createElement("div");
    l.className = "legend";
    names.forEach((n, i) => {
      const item = document.createElement("span");
      const sw = document.createElement("i");
      sw.style.background = COLORS[i % COLORS.length];
      item.append(sw, n);
      l.append(item);
    });
    box.append(l);
  }

  /** Lines: x labels, series [{name, values}], fmt for the y axis. */
  function line(box, xs, series, { fmt = String, label } = {}) {
    box.replaceChildren();
    const W = 560, H = 240, L = 64, R = 24, T = 10, B = 28;
    const g = svg(W, H, label);
    const max = nice(Math.max(0, ...series.flatMap((x) => x.values)));
    const x = (i) => L + (xs.length > 1 ? (i * (W - L - R)) / (xs.length - 1) : (W - L - R) / 2);
    const y = (v) => T + (H - T - B) * (1 - v / max);
    for (let k = 0; k <= 4; k++) {
      const v = (max * k) / 4;
      g.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e5e7eb" }));
      g.append(s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, fmt(v)));
    }
    const step = Math.max(1, Math.ceil(xs.length / 7));
    xs.forEach((d, i) => {
      if (i % step === 0 || i === xs.length - 1) g.append(s("text", { x: x(i), y: H - 8, "text-anchor": "middle" }, d.slice(5)));
    });
    series.forEach((ser, j) => {
      const c = COLORS[j % COLORS.length];
      g.append(s("polyline", { points: ser.values.map((v, i) => `${x(i)},${y(v)}`).join(" "), fill: "none", stroke: c, "stroke-width": 2 }));
      ser.values.forEach((v, i) => {
        const dot = s("circle", { cx: x(i), cy: y(v), r: 2.5, fill: c });
        dot.append(s("title", {}, `${ser.name} ${xs[i]}: ${fmt(v)}`));
        g.append(dot);
      });
    });
    box.append(g);
    legend(box, series.map((x) => x.name));
  }

  /** Horizontal bars: items [{label, value, title}], a reference value drawn as a line. */
  function bars(box, items, { fmt = String, reference, label, max: fixedMax } = {}) {
    box.replaceChildren();
    const row = 22, W = 560, L = 150, R = 70;
    const H = row * items.length + 8;
    const g = svg(W, H, label);
    const max = fixedMax || nice(Math.max(reference || 0, ...items.map((i) => i.value)));
    const x = (v) => L + ((W - L - R) * Math.max(0, v)) / max;
    items.forEach((it, i) => {
      const yy = 4 + i * row;
      const over = reference !== undefined && it.value >= reference;
      g.append(s("text", { x: L - 6, y: yy + 14, "text-anchor": "end" }, it.label.length > 18 ? it.label.slice(0, 17) + "…" : it.label));
      const r = s("rect", { x: L, y: yy + 3, width: Math.max(1, x(it.value) - L), height: row - 8, rx: 3, fill: over ? "#fe2c55" : "#94a3b8" });
      r.append(s("title", {}, it.title || `${it.label}: ${fmt(it.value)}`));
      g.append(r);
      g.append(s("text", { x: x(it.value) + 4, y: yy + 14 }, fmt(it.value)));
    });
    if (reference !== undefined) {
      g.append(s("line", { x1: x(reference), x2: x(reference), y1: 0, y2: H, stroke: "#1d2433", "stroke-dasharray": "3 3" }));
    }
    box.append(g);
  }

  /** Two horizontal bars per label (series A and B), with a reference line: items [{label, a, b}]. */
  function pairs(box, items, names, { fmt = String, reference, label } = {}) {
    box.replaceChildren();
    const row = 30, W = 560, L = 150, R = 70;
    const H = row * items.length + 8;
    const g = svg(W, H, label);
    const max = nice(Math.max(reference || 0, ...items.flatMap((i) => [i.a ?? 0, i.b ?? 0])));
    const x = (v) => L + ((W - L - R) * Math.max(0, v ?? 0)) / max;
    items.forEach((it, i) => {
      const yy = 4 + i * row;
      g.append(s("text", { x: L - 6, y: yy + 17, "text-anchor": "end" }, it.label.length > 18 ? it.label.slice(0, 17) + "…" : it.label));
      [["a", 0], ["b", 1]].forEach(([k, j]) => {
        const v = it[k];
        const r = s("rect", { x: L, y: yy + 2 + j * 12, width: Math.max(1, x(v) - L), height: 10, rx: 2, fill: COLORS[j] });
        r.append(s("title", {}, `${names[j]} ${it.label}: ${v === null || v === undefined ? "–" : fmt(v)}`));
        g.append(r);
        g.append(s("text", { x: x(v) + 4, y: yy + 11 + j * 12 }, v === null || v === undefined ? "–" : fmt(v)));
      });
    });
    if (reference !== undefined) {
      g.append(s("line", { x1: x(reference), x2: x(reference), y1: 0, y2: H, stroke: "#1d2433", "stroke-dasharray": "3 3" }));
    }
    box.append(g);
    legend(box, names);
  }

  /** A funnel: steps [{label, value}], each bar centred and as wide as its count, with the rate from
      the step before. */
  function funnel(box, steps, { fmt = String, rate = String, label } = {}) {
    box.replaceChildren();
    const row = 34, W = 560, C = 300, half = 200;
    const H = row * steps.length + 6;
    const g = svg(W, H, label);
    const max = Math.max(1, ...steps.map((x) => x.value));
    steps.forEach((st, i) => {
      const w = Math.max(2, (half * 2 * Math.sqrt(st.value / max)));
      const yy = 3 + i * row;
      g.append(s("rect", { x: C - w / 2, y: yy, width: w, height: row - 6, rx: 3, fill: COLORS[i % COLORS.length], opacity: 0.85 }));
      g.append(s("text", { x: 8, y: yy + 19 }, st.label));
      g.append(s("text", { x: C, y: yy + 19, "text-anchor": "middle", fill: "#fff", style: "fill:#fff;font-weight:600" }, fmt(st.value)));
      if (i > 0) g.append(s("text", { x: W - 6, y: yy + 19, "text-anchor": "end" }, rate(steps[i - 1].value ? st.value / steps[i - 1].value : null)));
    });
    box.append(g);
  }

  /** Stacked columns: x labels, series [{name, values}]. */
  function stacked(box, xs, series, { fmt = String, label } = {}) {
    box.replaceChildren();
    const W = 560, H = 220, L = 64, R = 12, T = 10, B = 28;
    const g = svg(W, H, label);
    const totals = xs.map((_, i) => series.reduce((a, ser) => a + Math.max(0, ser.values[i]), 0));
    const max = nice(Math.max(0, ...totals));
    const bw = Math.min(48, ((W - L - R) / Math.max(1, xs.length)) * 0.6);
    const y = (v) => T + (H - T - B) * (1 - v / max);
    for (let k = 0; k <= 4; k++) {
      const v = (max * k) / 4;
      g.append(s("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: "#e5e7eb" }));
      g.append(s("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, fmt(v)));
    }
    xs.forEach((d, i) => {
      const cx = L + ((i + 0.5) * (W - L - R)) / xs.length;
      let base = 0;
      series.forEach((ser, j) => {
        const v = Math.max(0, ser.values[i]);
        const r = s("rect", { x: cx - bw / 2, y: y(base + v), width: bw, height: y(base) - y(base + v), fill: COLORS[j % COLORS.length] });
        r.append(s("title", {}, `${ser.name} ${d}: ${fmt(v)}`));
        g.append(r);
        base += v;
      });
      g.append(s("text", { x: cx, y: H - 8, "text-anchor": "middle" }, d.slice(5)));
    });
    box.append(g);
    legend(box, series.map((x) => x.name));
  }

  return { line, bars, pairs, funnel, stacked, COLORS };
})();

/* The console's shared part: the signed-in key, calls to /v1 with it, labels of the page's language,
   number and money formats, tables with CSV export, and the navigation the key's role allows. */
"use strict";
const XQ = (() => {
  const cfg = JSON.parse(document.getElementById("xq-config").textContent);
  const locale = cfg.lang === "zh" ? "zh-CN" : "en-US";
  const KEY = "xq_key";
  const t0 = performance.now();
  let pending = 0;

  /** A label of the page's language ({name} placeholders filled from vars). */
  function T(key, vars) {
    let s = cfg.labels[key];
    if (s === undefined) return null;
    for (const [k, v] of Object.entries(vars || {})) s = s.replaceAll(`{${k}}`, v);
    return s;
  }
  /** A data value's label when it has one (a category, a segment, a status), else the value itself. */
  function V(prefix, value) {
    return T(`${prefix}.${value}`) ?? String(value ?? "–");
  }

  /** A reason the API gives in English, in the page's language (as given when it has no label). */
  function W(reason) {
    const exact = T(`why.${reason}`);
    if (exact !== null) return exact;
    const patterns = [[/^carries (.+)$/, "why.carries"], [/^your audience engages with it (.+) as much as average$/, "why.engages"],
      [/^commission (.+)$/, "why.commission"], [/^(\S+) of your sales$/, "why.sales_share"]];
    for (const [re, key] of patterns) {
      const m = reason.match(re);
      if (m) return T(key, { x: m[1] });
    }
    return reason;
  }
  /** A category path with its top level named in the page's language. */
  function C(path) {
    if (!path) return "–";
    const [top, ...rest] = String(path).split(">");
    return [V("val", top), ...rest].join(" › ");
  }

  /** A number in the page's locale with `digits` decimals (0 unless a number is given: tables pass
      their row as the second argument). */
  function num(n, digits) {
    const d = typeof digits === "number" ? digits : 0;
    return n === null || n === undefined ? "–" : Number(n).toLocaleString(locale, { minimumFractionDigits: d, maximumFractionDigits: d });
  }
  const yuan = (y) => (y === null || y === undefined ? "–" : "¥" + num(y, 2));
  const money = (fen) => (fen === null || fen === undefined ? "–" : yuan(fen / 100));
  const pct = (x, digits) => (x === null || x === undefined ? "–" : num(x * 100, typeof digits === "number" ? digits : 1) + "%");
  const dec = (x, digits) => num(x, typeof digits === "number" ? digits : 2);

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  /** A call to the API with the signed-in key; 401 goes back to the sign-in page. */
  async function api(path, { method = "GET", body, blob = false } = {}) {
    const key = localStorage.getItem(KEY);
    if (!key) return signIn();
    const headers = { Authorization: `Bearer ${key}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (res.status === 401) return signIn();
    if (!res.ok) {
      let detail = null;
      try { detail = await res.json(); } catch (_) { /* not JSON */ }
      throw new ApiError(res.status, detail);
    }
    return blob ? res.blob() : res.json();
  }
  function signIn() {
    localStorage.removeItem(KEY);
    location.href = `${cfg.prefix}/login`;
    return new Promise(() => {});
  }

  /** Build an element: el("td", {class: "num"}, "12"). */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  const $ = (sel, root = document) => root.querySelector(sel);

  function csvOf(columns, rows) {
    const q = (s) => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
    const lines = [columns.map((c) => q(c.label)).join(",")];
    for (const r of rows) lines.push(columns.map((c) => q(String(c.csv ? c.csv(r) : r[c.key] ?? ""))).join(","));
    return lines.join("\n") + "\n";
  }
  function download(name, blob) {
    const a = el("a", { href: URL.createObjectURL(blob), download: name });
    document.body.append(a);
    a.click();
    a.remove();
  }

  /** A table of rows into `box`: columns [{key, label, fmt, num, csv}], with a CSV export button. */
  function table(box, columns, rows, { csv, empty } = {}) {
    box.replaceChildren();
    if (!rows.length) {
      box.append(el("p", { class: "hint" }, empty || T("common.none")));
      return;
    }
    const head = el("tr", {}, columns.map((c) => el("th", { class: c.num ? "num" : null }, c.label)));
    const body = rows.map((r) =>
      el("tr", {}, columns.map((c) => {
        const v = c.fmt ? c.fmt(r[c.key], r) : r[c.key] ?? "–";
        return el("td", { class: c.num ? "num" : null, "data-key": c.key }, v);
      }))
    );
    box.append(el("table", {}, el("thead", {}, head), el("tbody", {}, body)));
    if (csv) {
      const button = el("button", { type: "button", class: "small", "data-csv": csv }, T("common.csv"));
      button.addEventListener("click", () => download(`${csv}.csv`, new Blob(["\ufeff" + csvOf(columns, rows)], { type: "text/csv" })));
      box.append(el("div", { class: "table-tools" }, button));
    }
  }

  function facts(dl, pairs) {
    dl.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  }
  const badge = (value, prefix = "status") => el("span", { class: `badge ${value}` }, V(prefix, value));

  function flash(message) {
    const f = $("#flash");
    f.textContent = message;
    f.hidden = !message;
  }
  /** Show what an API error means here (not found / not allowed / its message). */
  function failed(err, box) {
    const text =
      err.status === 404 ? T("common.not_found") : err.status === 403 ? T("common.not_allowed") : `${T("common.error")}: ${err.message}`;
    if (box) box.replaceChildren(el("p", { class: "hint", "data-error": err.status || "" }, text));
    else flash(text);
    if (!(err instanceof ApiError)) console.error(err);
  }

  /** Track the page's first data: when every tracked promise has settled the page is ready, and the
      time from navigation start to then is kept in window.xqReadyMs. */
  function track(promise) {
    pending += 1;
    document.body.dataset.ready = "";
    return Promise.resolve(promise).finally(() => {
      pending -= 1;
      if (pending === 0) {
        window.xqReadyMs = performance.now();
        document.body.dataset.ready = "1";
      }
    });
  }

  async function start(init) {
    $("#lang").addEventListener("click", (e) => {
      const u = new URL(location.href);
      u.searchParams.set("lang", e.target.dataset.to);
      location.href = u.toString();
    });
    if (cfg.page === "login") return init && init();
    $("#signout").addEventListener("click", signIn);
    let me;
    try {
      me = await track(api("/v1/keys/me"));
    } catch (err) {
      return failed(err);
    }
    const may = new Set(me.operations);
    me.may = (op) => may.has(op);
    for (const a of document.querySelectorAll("#nav a")) a.hidden = !may.has(a.dataset.op);
    for (const e of document.querySelectorAll("[data-needs]")) if (!may.has(e.dataset.needs)) e.remove();
    const scope = me.shops.length ? ` · ${me.shops.join(", ")}` : me.creator ? ` · ${me.creator}` : "";
    $("#who").textContent = `${T("common.signed_in_as")}: ${me.name} (${V("role", me.role)})${scope}`;
    const navOp = [...document.querySelectorAll("#nav a")].find((a) => a.dataset.nav === cfg.page);
    if (navOp && !may.has(navOp.dataset.op)) {
      flash(T("common.not_allowed"));
      return;
    }
    try {
      await track(init(me));
    } catch (err) {
      failed(err);
    }
  }

  /** Where a key lands after signing in: the first page of the navigation it may see. */
  function landing(me) {
    const paths = { overview_report: "/overview", user_feed: "/feed", creator_selection: "/creators", product_details: "/products", portrait: "/audiences" };
    if (me.role === "creator") return `${cfg.prefix}/creators/${encodeURIComponent(me.creator)}`;
    for (const [op, path] of Object.entries(paths)) if (me.operations.includes(op)) return cfg.prefix + path;
    return `${cfg.prefix}/models`;
  }

  /** A portrait (API answer) into `box`: its size, then TGI bars per dimension chosen from tabs; a
      group under the minimum count shows its size only. */
  function portrait(box, p) {
    box.replaceChildren();
    if (p.hidden) {
      box.append(el("p", { class: "hint", "data-hidden": "1" }, T("audiences.hidden", { n: num(p.min_count), size: num(p.size) })));
      return;
    }
    box.append(el("p", { class: "hint", "data-size": p.size }, T("audiences.size", { size: num(p.size) })));
    const dims = Object.keys(p.dimensions || {});
    const tabs = el("div", { class: "tabs" });
    const chart = el("div", { class: "chart" });
    const rows = el("div");
    const show = (d) => {
      for (const b of tabs.children) b.classList.toggle("on", b.dataset.dim === d);
      const segs = p.dimensions[d].segments.slice(0, 12);
      Charts.bars(chart, segs.map((x) => ({ label: V("val", x.value), value: x.tgi,
        title: `${V("val", x.value)}: TGI ${num(x.tgi)} · ${pct(x.share)} · ${num(x.count)}` })), { fmt: (v) => num(v), reference: 100, label: `TGI ${V("dim", d)}` });
      table(rows, [
        { key: "value", label: T("common.value"), fmt: (v) => V("val", v) },
        { key: "count", label: T("common.count"), num: true, fmt: num },
        { key: "share", label: T("common.share"), num: true, fmt: (v) => pct(v) },
        { key: "tgi", label: "TGI", num: true, fmt: (v) => num(v) },
      ], segs, { csv: `portrait-${d}` });
    };
    for (const d of dims) tabs.append(el("button", { type: "button", "data-dim": d, onclick: () => show(d) }, V("dim", d)));
    box.append(tabs, chart, rows);
    if (dims.length) show(dims[0]);
  }

  const qs = (params) => {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v === null || v === undefined || v === "") continue;
      for (const x of [].concat(v)) u.append(k, x);
    }
    const s = u.toString();
    return s ? `?${s}` : "";
  };
  const enc = encodeURIComponent;

  return { cfg, T, V, num, yuan, money, pct, dec, api, ApiError, el, $, table, facts, badge, flash, failed, track, start,
    landing, qs, enc, portrait, W, C, download, KEY, locale };
})();

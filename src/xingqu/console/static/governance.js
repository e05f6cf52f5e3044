/* Governance (operations): screen a pasted listing with the matched terms highlighted, the review
   queue (approve / reject with a note), takedown / reinstate, a shop's penalty points, flagged stores
   with their evidence and the audit log, searchable. */
"use strict";
(() => {
  const { T, V, $, el, api, num, qs, enc, table, facts, badge, failed, track } = XQ;

  /** The text with the spans of the reasons found in it marked, each titled with its rule and reason. */
  function highlighted(text, reasons) {
    const spans = reasons.filter((r) => r.span).map((r) => ({ from: r.span[0], to: r.span[1], r })).sort((a, b) => a.from - b.from);
    const out = el("span");
    let at = 0;
    for (const s of spans) {
      if (s.from < at) continue;
      out.append(text.slice(at, s.from));
      out.append(el("mark", { title: `${s.r.rule}: ${s.r.message}` }, text.slice(s.from, s.to)));
      at = s.to;
    }
    out.append(text.slice(at));
    return out;
  }

  async function screen(e) {
    e.preventDefault();
    const listing = { id: `console-${Date.now()}`, title: $("#s-title").value, description: $("#s-description").value };
    if ($("#s-category").value.trim()) listing.category = $("#s-category").value.trim();
    if ($("#s-price").value) listing.price = Number($("#s-price").value);
    if ($("#s-shop").value.trim()) listing.shop = $("#s-shop").value.trim();
    const r = await api("/v1/governance/screen", { method: "POST", body: { listings: [listing], queue: $("#s-queue").checked } });
    const d = r.decisions[0];
    const box = $("#screened");
    box.replaceChildren(el("p", {}, `${T("gov.decision")}: `, badge(d.decision, "decision"), ` · ${r.ruleset}`));
    for (const field of ["title", "description"]) {
      if (!listing[field]) continue;
      box.append(el("p", { class: "screened-text", "data-field": field }, el("b", {}, `${T(field === "title" ? "gov.listing_title" : "gov.listing_description")}: `),
        highlighted(listing[field], d.reasons.filter((x) => x.field === field))));
    }
    const rows = el("div");
    table(rows, [
      { key: "term", label: T("gov.term") }, { key: "field", label: T("gov.field") },
      { key: "rule", label: T("gov.rule") }, { key: "severity", label: T("gov.decision"), fmt: (v) => badge(v, "decision") },
      { key: "message", label: T("common.reason") },
    ], d.reasons);
    box.append(rows);
    if (r.queued) await review();
  }

  async function review() {
    const r = await api(`/v1/governance/review${qs({ status: "open", limit: 50 })}`);
    const act = (id, approve, note) => track((async () => {
      await api(`/v1/governance/review/${enc(id)}/${approve ? "approve" : "reject"}`, { method: "POST", body: { note: note.value || "-" } });
      await Promise.all([review(), audit()]);
    })().catch((err) => failed(err)));
    table($("#review"), [
      { key: "listing_id", label: T("gov.listing") },
      { key: "shop_id", label: T("common.shop") },
      { key: "title", label: T("common.title") },
      { key: "reasons", label: T("common.reasons"), fmt: (v) => v.map((x) => `${x.term ?? ""} (${x.rule})`).join("; "), csv: (x) => x.reasons.map((y) => y.rule).join("; ") },
      { key: "actions", label: T("gov.action"), fmt: (_, row) => {
        const note = el("input", { placeholder: T("common.note"), size: 10, "aria-label": T("common.note") });
        return el("span", { class: "row" }, note,
          el("button", { type: "button", class: "small", "data-approve": row.listing_id, onclick: () => act(row.listing_id, true, note) }, T("gov.approve")),
          el("button", { type: "button", class: "small", "data-reject": row.listing_id, onclick: () => act(row.listing_id, false, note) }, T("gov.reject")));
      }, csv: () => "" },
    ], r.entries, { csv: "review-queue" });
  }

  async function takedown(e) {
    e.preventDefault();
    const which = e.submitter ? e.submitter.dataset.do : "takedown";
    const id = $("#t-product").value.trim();
    const r = await api(`/v1/products/${enc(id)}/${which}`, { method: "POST", body: { reason: $("#t-reason").value } });
    const out = $("#takedown-result");
    out.replaceChildren(`${r.product}: `, badge(r.before), " → ", badge(r.after));
    await audit();
  }

  async function points(e) {
    if (e) e.preventDefault();
    const s = await api(`/v1/shops/${enc($("#p-shop").value.trim())}/points`);
    const box = $("#standing");
    box.replaceChildren();
    const dl = el("dl", { class: "facts" });
    facts(dl, [[T("common.shop"), s.shop], [T("product.shop_points"), num(s.points)], [T("product.shop_action"), V("action", s.action)], [T("common.status"), badge(String(s.status))]]);
    const list = el("div");
    table(list, [
      { key: "violation", label: T("gov.flag") }, { key: "points", label: T("product.shop_points"), num: true, fmt: num },
      { key: "reason", label: T("common.reason") },
    ], s.penalties);
    box.append(dl, list);
  }

  async function stores() {
    const r = await api(`/v1/governance/stores${qs({ window_days: 7 })}`);
    $("#judged").textContent = T("gov.judged", { n: num(r.judged), m: num(r.too_small.length) });
    table($("#stores"), [
      { key: "shop", label: T("common.shop") },
      { key: "kind", label: T("gov.flag"), fmt: (v) => V("flag", v) },
      { key: "evidence", label: T("gov.evidence"), fmt: (v) => el("ul", { class: "why" }, Object.entries(v || {}).map(([k, x]) => el("li", {}, `${k}: ${typeof x === "object" ? JSON.stringify(x) : x}`))),
        csv: (row) => JSON.stringify(row.evidence) },
    ], r.flags, { csv: "flagged-stores" });
  }

  async function audit(e) {
    if (e) e.preventDefault();
    const subject = $("#a-subject").value.trim();
    const r = await api(`/v1/governance/audit${qs({ subject, limit: 50 })}`);
    table($("#audit"), [
      { key: "at", label: T("common.time"), fmt: (v) => (v ? new Date(v).toLocaleString(XQ.locale) : "–") },
      { key: "actor", label: T("gov.actor") }, { key: "action", label: T("gov.action") },
      { key: "subject_id", label: T("gov.subject"), fmt: (v, row) => `${V("kind", row.subject_kind)} ${v}` },
      { key: "reason", label: T("common.reason") },
    ], r.entries, { csv: "audit-log" });
  }

  XQ.start(async () => {
    const on = (id, f) => $(id).addEventListener("submit", (e) => track(f(e).catch((err) => failed(err))));
    on("#screen", screen);
    on("#takedown", takedown);
    on("#points", points);
    on("#audit-search", audit);
    await Promise.all([review(), stores(), audit()].map((p) => p.catch((err) => failed(err))));
  });
})();

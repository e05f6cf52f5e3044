/* Creator page (达人): its portrait by audience (followers, fans, viewers, buyers) with TGI, its live
   sessions with GMV in the session and within 7 days, selection (categories and products for its fans,
   with reasons) and similar creators. A creator key sees itself. */
"use strict";
(() => {
  const { T, V, $, el, api, num, dec, yuan, money, qs, enc, table, failed, track, W, C } = XQ;

  async function portrait(id, audience) {
    for (const b of document.querySelectorAll("#audience-tabs button")) b.classList.toggle("on", b.dataset.audience === audience);
    XQ.portrait($("#portrait"), await api(`/v1/portraits/creator/${enc(id)}${qs({ audience })}`));
  }

  async function live(id) {
    const r = await api(`/v1/reports/live${qs({ creator: id, top: 20 })}`);
    const rows = r.rows;
    Charts.stacked($("#live-chart"), rows.map((x) => `     ${x.session}`), [
      { name: T("creator.gmv_in_session"), values: rows.map((x) => x.gmv_in_session / 100) },
      { name: `${T("creator.gmv_7d")} − ${T("creator.gmv_in_session")}`, values: rows.map((x) => (x.gmv_7d - x.gmv_in_session) / 100) },
    ], { fmt: (v) => "¥" + num(v), label: T("creator.live") });
    table($("#live"), [
      { key: "session", label: T("creator.session") },
      { key: "title", label: T("common.title") },
      { key: "gmv_in_session", label: T("creator.gmv_in_session"), num: true, fmt: money },
      { key: "gmv_7d", label: T("creator.gmv_7d"), num: true, fmt: money },
      { key: "viewers", label: T("creator.viewers"), num: true, fmt: num },
      { key: "orders", label: T("creator.orders"), num: true, fmt: num },
    ], rows, { csv: "live-sessions" });
  }

  async function selection(id) {
    const s = await api(`/v1/creators/${enc(id)}/selection${qs({ n: 10, categories: 5 })}`);
    const reasons = (v) => el("ul", { class: "why" }, v.map((x) => el("li", {}, W(x))));
    table($("#categories"), [
      { key: "category", label: T("common.category"), fmt: (v) => V("val", v) },
      { key: "expected_gpm", label: T("creator.expected_gpm"), num: true, fmt: yuan },
      { key: "reasons", label: T("common.reasons"), fmt: reasons, csv: (r) => r.reasons.join("; ") },
    ], s.categories, { csv: "selection-categories" });
    table($("#products"), [
      { key: "product", label: T("common.id") },
      { key: "category", label: T("common.category"), fmt: C },
      { key: "price_yuan", label: T("common.price"), num: true, fmt: yuan },
      { key: "commission_rate", label: T("product.commission"), num: true, fmt: (v) => XQ.pct(v) },
      { key: "reasons", label: T("common.reasons"), fmt: reasons, csv: (r) => r.reasons.join("; ") },
    ], s.products, { csv: "selection-products" });
  }

  async function similar(id) {
    const r = await api(`/v1/creators/${enc(id)}/similar${qs({ n: 8 })}`);
    table($("#similar"), [
      { key: "creator", label: T("creator.title"), fmt: (v) => el("a", { href: `${XQ.cfg.prefix}/creators/${enc(v)}` }, v) },
      { key: "similarity", label: T("common.score"), num: true, fmt: (v) => dec(v, 3) },
    ], r.similar, { csv: "similar-creators" });
  }

  XQ.start(async (me) => {
    const id = XQ.cfg.subject || (me.role === "creator" ? me.creator : null);
    $("#open").addEventListener("submit", (e) => {
      e.preventDefault();
      location.href = `${XQ.cfg.prefix}/creators/${enc($("#open-id").value.trim())}`;
    });
    if (me.role === "creator") $("#open").hidden = true;
    if (!id) return;
    $("#subject").textContent = id;
    $("#body").hidden = false;
    const guard = (p, box) => p.catch((err) => failed(err, box));
    const jobs = [];
    if (me.may("portrait")) {
      for (const b of document.querySelectorAll("#audience-tabs button")) {
        b.addEventListener("click", () => track(guard(portrait(id, b.dataset.audience), $("#portrait"))));
      }
      jobs.push(guard(portrait(id, "followers"), $("#portrait")));
    }
    if (me.may("live_report")) jobs.push(guard(live(id), $("#live")));
    if (me.may("creator_selection")) jobs.push(guard(selection(id), $("#products")));
    if (me.may("similar_creators")) jobs.push(guard(similar(id), $("#similar")));
    await Promise.all(jobs);
  });
})();

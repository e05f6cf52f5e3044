/* Product page: details and governance status, similar and bought-together goods, its audience
   (private domain, buyers' portrait, lookalike sizes, a downloadable audience), recommended creators
   with filters, and creators like a chosen one. */
"use strict";
(() => {
  const { T, V, $, el, api, num, pct, dec, yuan, qs, enc, table, facts, badge, failed, track, W, C } = XQ;
  const id = XQ.cfg.subject;
  let seed = null;

  async function details() {
    const p = await api(`/v1/products/${enc(id)}`);
    facts($("#details"), [
      [T("common.title"), p.title], [T("common.price"), yuan(p.price_yuan)],
      [T("product.reference_price"), yuan(p.reference_price_yuan)], [T("common.category"), C(p.category)],
      [T("common.shop"), `${p.shop ?? ""} (${p.shop_id})`], [T("product.brand"), p.brand ?? p.brand_id ?? "–"],
      [T("product.stock"), num(p.stock)], [T("product.commission"), pct(p.commission_rate)],
      [T("common.status"), badge(p.status)],
    ]);
    return p;
  }

  async function standing(me, p) {
    if (!me.may("shop_points")) return;
    const s = await api(`/v1/shops/${enc(p.shop_id)}/points`);
    facts($("#standing"), [
      [T("common.status"), badge(p.status)], [T("product.shop_status"), badge(String(s.status))],
      [T("product.shop_points"), num(s.points)], [T("product.shop_action"), V("action", s.action)],
    ]);
  }

  async function related(me) {
    if (!me.may("similar_products")) return;
    const r = await api(`/v1/products/${enc(id)}/similar${qs({ n: 8 })}`);
    const cols = [
      { key: "product_id", label: T("common.id"), fmt: (v) => el("a", { href: `${XQ.cfg.prefix}/products/${enc(v)}` }, v) },
      { key: "score", label: T("common.score"), num: true, fmt: (v) => dec(v, 3) },
      { key: "reason", label: T("common.reason"), fmt: W },
    ];
    table($("#similar"), cols, r.similar, { csv: "similar" });
    table($("#together"), cols, r.bought_together, { csv: "bought-together" });
  }

  async function audience(me, p) {
    if (!me.may("audience")) return;
    const a = await api(`/v1/audiences/product/${enc(id)}`);
    const rows = Object.entries(a.private_domain).map(([k, v]) => ({ group: k, size: v }));
    table($("#private"), [
      { key: "group", label: T("audiences.audience"), fmt: (v) => V("audience", v) },
      { key: "size", label: T("common.size"), num: true, fmt: num },
    ], rows, { csv: "private-domain" });
    $("#estimate").addEventListener("click", () => track(lookalike(p)));
  }

  /** Lookalike sizes seeded by the product's buyers, or by its shop's when it has too few buyers. */
  async function lookalike(p) {
    const box = $("#lookalike");
    const sizes = (l) => table(box, [
      { key: "top_share", label: T("common.share"), fmt: (v) => (v === null || v === undefined ? "–" : T("product.top_share", { p: num(v * 100, v < 0.01 ? 1 : 0) })) },
      { key: "size", label: T("common.size"), num: true, fmt: num },
    ], l.sizes, { csv: "lookalike-sizes" });
    for (const [kind, key] of [["product", id], ["shop", p.shop_id]]) {
      try {
        const l = await api(`/v1/audiences/${kind}/${enc(key)}/lookalike${qs({ page_size: 1 })}`, { method: "POST", body: { top_pct: 10 } });
        seed = [kind, key];
        sizes(l);
        box.dataset.seed = `${kind}/${key}`;
        if (kind === "shop") box.prepend(el("p", { class: "hint" }, T("product.seeded_by_shop", { shop: key })));
        return;
      } catch (err) {
        if (err.status !== 400 || kind === "shop") return failed(err, box);
      }
    }
  }

  async function portrait(me) {
    if (!me.may("portrait")) return;
    XQ.portrait($("#portrait"), await api(`/v1/portraits/product/${enc(id)}${qs({ audience: "buyers" })}`));
  }

  async function creators() {
    const params = { n: 10, min_followers: $("#min-followers").value, category: $("#category").value.trim(), min_reputation: $("#min-reputation").value };
    const r = await api(`/v1/products/${enc(id)}/creators${qs(params)}`);
    table($("#creators"), [
      { key: "creator", label: T("creator.title"), fmt: (v) => el("button", { type: "button", class: "small", "data-creator": v, onclick: () => track(similarCreators(v)) }, v) },
      { key: "predicted_gmv_yuan", label: T("product.predicted_gmv"), num: true, fmt: yuan },
      { key: "score", label: T("common.score"), num: true, fmt: (v) => dec(v, 3) },
      { key: "followers", label: T("product.followers"), num: true, fmt: num },
      { key: "target_users_in_audience", label: T("product.target_in_audience"), num: true, fmt: num },
      { key: "components", label: T("product.breakdown"), fmt: (c) => Object.entries(c).map(([k, v]) => `${V("comp", k)} ${dec(v, 2)}`).join(" · "),
        csv: (r) => Object.entries(r.components).map(([k, v]) => `${k}=${v}`).join(" ") },
    ], r.creators, { csv: "creators" });
  }

  async function similarCreators(c) {
    const card = $("#similar-creators-card");
    if (!card) return;
    card.hidden = false;
    $("#similar-of").textContent = c;
    const r = await api(`/v1/creators/${enc(c)}/similar${qs({ n: 8 })}`);
    table($("#similar-creators"), [
      { key: "creator", label: T("creator.title") },
      { key: "similarity", label: T("common.score"), num: true, fmt: (v) => dec(v, 3) },
    ], r.similar, { csv: "similar-creators" });
  }

  async function createAudience(e) {
    e.preventDefault();
    if (!seed) return;
    const pctValue = Number($("#create-pct").value);
    const [kind, key] = seed;
    const blob = await api(`/v1/audiences/${kind}/${enc(key)}/lookalike${qs({ format: "jsonl" })}`, { method: "POST", body: { top_pct: pctValue }, blob: true });
    XQ.download(`audience-${kind}-${key}-top${pctValue}.jsonl`, blob);
  }

  XQ.start(async (me) => {
    $("#open").addEventListener("submit", (e) => {
      e.preventDefault();
      location.href = `${XQ.cfg.prefix}/products/${enc($("#open-id").value.trim())}`;
    });
    if (!id) return;
    let p;
    try {
      p = await details();
    } catch (err) {
      $("#body").replaceChildren();
      return failed(err, $("#body"));
    }
    const guard = (f, box) => f.catch((err) => failed(err, box));
    const jobs = [guard(standing(me, p), $("#standing")), guard(related(me), $("#similar")),
      guard(audience(me, p), $("#private")), guard(portrait(me), $("#portrait"))];
    if (me.may("creators_for_product")) {
      jobs.push(guard(creators(), $("#creators")));
      $("#creator-filters").addEventListener("submit", (e) => { e.preventDefault(); track(guard(creators(), $("#creators"))); });
    }
    const create = $("#create");
    if (create) create.addEventListener("submit", (e) => track(createAudience(e).catch((err) => failed(err))));
    await Promise.all(jobs);
  });
})();

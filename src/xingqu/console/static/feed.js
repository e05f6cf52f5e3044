/* Feed preview: a user's feed as product cards (title, price, shop, category, found by, why) with
   filters, the content feed beside it, and a click recorded from the page (through /v1/events) that
   moves the next feed. */
"use strict";
(() => {
  const { T, V, $, el, api, yuan, dec, qs, enc, failed, track, W, C } = XQ;
  let shown = [];

  function card(it, user) {
    const click = el("button", { type: "button", class: "small", "data-click": it.product }, T("feed.click"));
    click.addEventListener("click", () => track(recordClick(user, it).catch((err) => failed(err))));
    return el("li", { "data-product": it.product, class: shown.length && !shown.includes(it.product) ? "fresh" : null },
      el("div", { class: "card-title" }, it.title ?? it.product),
      el("div", { class: "card-meta" },
        el("span", { class: "price" }, yuan(it.price_yuan)),
        el("span", {}, `${T("common.shop")}: ${it.shop ?? it.shop_id ?? "–"}`),
        el("span", {}, `${T("common.category")}: ${C(it.category)}`),
        it.new ? el("span", { class: "badge pending" }, T("feed.new")) : null,
        el("span", { class: "mono" }, it.product)),
      el("div", { class: "card-meta" }, `${T("feed.found_by")}: ${it.found_by.join(", ")}`),
      el("ul", { class: "why", "aria-label": T("feed.why") }, it.reasons.map((r) => el("li", {}, W(r)))),
      click);
  }

  async function recordClick(user, it) {
    const now = Date.now();
    await api("/v1/events", { method: "POST", body: { events: [{
      event_id: `console-${user}-${it.product}-${now}`, event_type: "click", ts: new Date(now).toISOString(), user_id: user,
      product_id: it.product, shop_id: it.shop_id, surface: "feed",
    }] } });
    await load();
    $("#clicked").hidden = false;
  }

  async function load() {
    const user = $("#user").value.trim();
    if (!user) return;
    const u = new URL(location.href);
    u.searchParams.set("user", user);
    history.replaceState(null, "", u);
    const params = { n: 12, max_price: $("#max-price").value, category: $("#category").value.trim() };
    const [f, c] = await Promise.all([
      api(`/v1/users/${enc(user)}/feed${qs(params)}`),
      api(`/v1/users/${enc(user)}/content${qs({ n: 6 })}`).catch((err) => ({ error: err })),
    ]);
    $("#model").textContent = `${T("feed.model")}: ${f.model}`;
    $("#cards").replaceChildren(...f.items.map((it) => card(it, user)));
    if (!f.items.length) $("#cards").append(el("li", { class: "hint" }, T("common.none")));
    shown = f.items.map((it) => it.product);
    const box = $("#content");
    if (c.error) return failed(c.error, box);
    box.replaceChildren(...c.items.map((it) => el("li", { "data-content": it.content },
      el("div", { class: "card-title" }, `${it.kind === "live" ? T("feed.live") : T("feed.video")} ${it.content}`,
        it.live_now ? el("span", { class: "badge listed" }, T("feed.live_now")) : null),
      el("div", { class: "card-meta" }, el("span", {}, `${T("creator.title")}: ${it.creator}`), el("span", {}, `${T("common.score")}: ${dec(it.score, 3)}`)),
      el("div", { class: "card-meta" }, `${T("feed.carries")}: ${it.products.join(", ") || "–"}`),
      el("ul", { class: "why" }, it.reasons.map((r) => el("li", {}, W(r)))))));
    if (!c.items.length) box.append(el("li", { class: "hint" }, T("common.none")));
  }

  XQ.start(async () => {
    const params = new URLSearchParams(location.search);
    if (params.get("user")) $("#user").value = params.get("user");
    $("#feed-form").addEventListener("submit", (e) => {
      e.preventDefault();
      shown = [];
      $("#clicked").hidden = true;
      track(load().catch((err) => failed(err)));
    });
    await load();
  });
})();

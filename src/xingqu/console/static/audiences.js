/* Audience tools (人群): the portrait of any group (creator, shop, brand, product, category) and two
   groups side by side; a group under the minimum count shows its size only. */
"use strict";
(() => {
  const { T, V, $, el, api, qs, enc, failed, track, num, pct, table } = XQ;
  const shown = {};
  const AUDIENCES = {
    creator: ["followers", "fans", "viewers", "buyers"],
    shop: ["buyers", "followers", "new_buyers", "returning_buyers"],
    brand: ["buyers", "followers", "new_buyers", "returning_buyers"],
    product: ["buyers"],
    category: ["buyers"],
  };

  function audiences(form) {
    const select = form.elements.audience;
    const kind = form.elements.kind.value;
    select.replaceChildren(...AUDIENCES[kind].map((a) => el("option", { value: a }, V("audience", a))));
  }

  async function show(form) {
    const box = form.parentElement.querySelector(".portrait");
    const { kind, key, audience } = form.elements;
    const u = new URL(location.href);
    const g = form.dataset.group;
    u.searchParams.set(`${g}_kind`, kind.value);
    u.searchParams.set(`${g}_key`, key.value.trim());
    u.searchParams.set(`${g}_audience`, audience.value);
    history.replaceState(null, "", u);
    shown[g] = null;
    try {
      const p = await api(`/v1/portraits/${enc(kind.value)}/${enc(key.value.trim())}${qs({ audience: audience.value })}`);
      XQ.portrait(box, p);
      shown[g] = p.hidden ? null : p;
    } catch (err) {
      failed(err, box);
    }
    compare();
  }

  /** The two groups' TGI side by side for each dimension both describe. */
  function compare() {
    const [a, b] = [shown.a, shown.b];
    const card = $("#compare");
    card.hidden = !(a && b);
    if (card.hidden) return;
    const dims = Object.keys(a.dimensions).filter((d) => d in b.dimensions);
    const label = (g) => {
      const f = document.querySelector(`form[data-group="${g}"]`).elements;
      return `${g.toUpperCase()} · ${V("kind", f.kind.value)} ${f.key.value.trim()}`;
    };
    const names = [label("a"), label("b")];
    const tabs = $("#compare-tabs");
    const draw = (d) => {
      for (const t of tabs.children) t.classList.toggle("on", t.dataset.dim === d);
      const of = (p) => Object.fromEntries(p.dimensions[d].segments.map((x) => [x.value, x]));
      const [sa, sb] = [of(a), of(b)];
      const values = [...new Set([...Object.keys(sa), ...Object.keys(sb)])].slice(0, 12);
      const rows = values.map((v) => ({ value: v, a_share: sa[v]?.share ?? null, a_tgi: sa[v]?.tgi ?? null, b_share: sb[v]?.share ?? null, b_tgi: sb[v]?.tgi ?? null }));
      Charts.pairs($("#compare-chart"), rows.map((r) => ({ label: V("val", r.value), a: r.a_tgi, b: r.b_tgi })), names, { fmt: (v) => num(v), reference: 100, label: T("audiences.compare") });
      table($("#compare-table"), [
        { key: "value", label: T("common.value"), fmt: (v) => V("val", v) },
        { key: "a_share", label: `A ${T("common.share")}`, num: true, fmt: (v) => pct(v) },
        { key: "a_tgi", label: "A TGI", num: true, fmt: (v) => num(v) },
        { key: "b_share", label: `B ${T("common.share")}`, num: true, fmt: (v) => pct(v) },
        { key: "b_tgi", label: "B TGI", num: true, fmt: (v) => num(v) },
      ], rows, { csv: `compare-${d}` });
    };
    tabs.replaceChildren(...dims.map((d) => el("button", { type: "button", "data-dim": d, onclick: () => draw(d) }, V("dim", d))));
    if (dims.length) draw(dims[0]);
  }

  XQ.start(async (me) => {
    const params = new URLSearchParams(location.search);
    const jobs = [];
    for (const form of document.querySelectorAll("form[data-group]")) {
      const g = form.dataset.group;
      const kinds = me.role === "merchant" ? ["shop", "product"] : me.role === "creator" ? ["creator"] : Object.keys(AUDIENCES);
      for (const o of [...form.elements.kind.options]) if (!kinds.includes(o.value)) o.remove();
      const kind = params.get(`${g}_kind`);
      if (kind && kinds.includes(kind)) form.elements.kind.value = kind;
      audiences(form);
      const audience = params.get(`${g}_audience`);
      if (audience && AUDIENCES[form.elements.kind.value].includes(audience)) form.elements.audience.value = audience;
      const key = params.get(`${g}_key`) || (g === "a" ? (me.role === "merchant" ? me.shops[0] : me.creator) : null);
      if (key) form.elements.key.value = key;
      form.elements.kind.addEventListener("change", () => audiences(form));
      form.addEventListener("submit", (e) => { e.preventDefault(); track(show(form)); });
      if (form.elements.key.value) jobs.push(show(form));
    }
    await Promise.all(jobs);
  });
})();

/* Audience tools (人群): the portrait of any group (creator, shop, brand, product, category) and two
   groups side by side; a group under the minimum count shows its size only. */
"use strict";
(() => {
  const { T, V, $, el, api, qs, enc, failed, track } = XQ;
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
    try {
      XQ.portrait(box, await api(`/v1/portraits/${enc(kind.value)}/${enc(key.value.trim())}${qs({ audience: audience.value })}`));
    } catch (err) {
      failed(err, box);
    }
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

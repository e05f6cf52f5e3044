/* Models: every version with its evaluation figures, which one is live, and a training run started
   from the page whose progress is polled until it ends. */
"use strict";
(() => {
  const { T, $, el, api, num, dec, table, failed, track } = XQ;
  const FIGURES = ["recall@10", "ndcg@10", "recall@20", "hitrate@10", "mrr", "coverage@20"];

  async function versions() {
    const r = await api("/v1/models");
    const rows = r.versions.map((v) => ({ ...v, ...(v.meta?.validation || {}), users: v.meta?.users, items: v.meta?.items, seconds: v.meta?.seconds }));
    table($("#versions"), [
      { key: "version", label: T("models.version"), fmt: (v) => el("span", { class: "mono" }, v, v === r.current ? el("span", { class: "badge listed", "data-live": "1" }, ` ${T("models.live")}`) : null), csv: (x) => x.version },
      { key: "status", label: T("common.status"), fmt: (v) => XQ.V("mstatus", v) },
      { key: "created_ms", label: T("models.created"), fmt: (v) => new Date(v).toLocaleString(XQ.locale) },
      { key: "users", label: T("models.users"), num: true, fmt: num },
      { key: "items", label: T("models.items"), num: true, fmt: num },
      ...FIGURES.map((f) => ({ key: f, label: f, num: true, fmt: (v) => (v === undefined ? "–" : dec(v, 3)) })),
      { key: "seconds", label: T("models.seconds"), num: true, fmt: (v) => dec(v, 1) },
    ], rows, { csv: "model-versions" });
    const ready = rows.filter((x) => x["recall@10"] !== undefined).slice(-12);
    Charts.bars($("#versions-chart"), ready.map((x) => ({ label: x.version.slice(0, 15), value: x["recall@10"], title: `${x.version} recall@10 ${dec(x["recall@10"], 3)}` })),
      { fmt: (v) => dec(v, 3), max: 1, label: "recall@10" });
  }

  async function training() {
    const s = await api("/v1/models/training");
    $("#bar").hidden = !s.running;
    const last = s.last ? `${s.last.version ?? ""} ${s.last.running ? "" : s.last.exit_code === 0 ? T("common.done") : s.last.error ?? s.last.exit_code ?? ""}` : "";
    $("#training").textContent = s.running ? T("models.training") : `${T("models.idle")}${last ? " · " + T("models.last", { s: last.trim() }) : ""}`;
    const button = $("#train");
    if (button) button.disabled = s.running;
    return s.running;
  }

  async function poll() {
    while (await training()) await new Promise((ok) => setTimeout(ok, 1000));
    await versions();
  }

  XQ.start(async (me) => {
    const button = $("#train");
    if (button) button.addEventListener("click", () => track((async () => {
      await api("/v1/models/train", { method: "POST" });
      await poll();
    })().catch((err) => failed(err))));
    const running = await training();
    await versions();
    if (running) poll().catch((err) => failed(err));
  });
})();

/* Online experiments: every experiment with its arms and exposure, and one experiment's report — the
   verdict, the sample ratio check, each arm's primary metric with its interval and lift, the
   guardrails — with a stop button for keys that may stop one. */
"use strict";
(() => {
  const { T, V, $, el, api, num, dec, pct, table, failed, track, enc } = XQ;
  const METRIC = (m) => T(`exp.metric.${m}`) ?? m;
  const interval = (lo, hi, f) => (lo === null || lo === undefined ? "–" : `[${f(lo)}, ${f(hi)}]`);
  const signed = (x) => (x === null || x === undefined ? "–" : (x > 0 ? "+" : "") + pct(x, 1));

  function chosen(list) {
    const asked = new URL(location.href).searchParams.get("name");
    if (asked && list.some((e) => e.name === asked)) return asked;
    const running = list.find((e) => e.status === "running");
    return (running || list[0] || {}).name;
  }

  async function experiments() {
    const r = await api("/v1/experiments");
    const rows = r.experiments;
    table($("#experiments"), [
      { key: "name", label: T("exp.name"), fmt: (v) => el("a", { href: `?name=${enc(v)}`, class: "mono", "data-exp": v }, v) },
      { key: "status", label: T("common.status"), fmt: (v) => el("span", { class: `badge ${v}`, "data-status": v }, V("exp.status", v)) },
      { key: "layer", label: T("exp.layer") },
      { key: "arms", label: T("exp.arms"), fmt: (arms) => arms.map((a) => `${a.name} ${pct(a.share, 0)}`).join(" · ") },
      { key: "start_ms", label: T("exp.start"), fmt: (v) => new Date(v).toLocaleString(XQ.locale) },
      { key: "planned_users", label: T("exp.planned"), num: true, fmt: num },
    ], rows, { csv: "experiments", empty: T("exp.none") });
    return rows;
  }

  async function report(name) {
    const r = await api(`/v1/experiments/${enc(name)}/report`);
    $("#report-card").hidden = false;
    $("#report-name").textContent = name;
    const verdict = $("#verdict");
    verdict.replaceChildren(el("span", { class: `badge ${r.verdict.code}`, "data-verdict": r.verdict.code }, V("exp.verdict", r.verdict.code)), " ", r.verdict.text);
    const p = r.srm.p === null || r.srm.p === undefined ? "–" : dec(r.srm.p, 3);
    $("#srm").textContent = T(r.srm.mismatch ? "exp.srm_bad" : "exp.srm_ok", { p });
    $("#srm").dataset.mismatch = r.srm.mismatch ? "1" : "0";
    $("#method").textContent = `${T("exp.method")}: ${r.method}`;
    const fmt = (v) => dec(v, 2);
    table($("#arms"), [
      { key: "arm", label: T("exp.arm"), fmt: (v) => (v === r.control ? `${v} (${T("exp.control")})` : v) },
      { key: "users", label: T("exp.users"), num: true, fmt: num },
      { key: "impressions", label: T("exp.impressions"), num: true, fmt: num },
      { key: "value", label: `${T("exp.primary")}: ${METRIC(r.primary_metric)}`, num: true, fmt: (v) => (v === null ? "–" : fmt(v)) },
      { key: "ci", label: T("exp.interval"), num: true, fmt: (_, x) => interval(x.low, x.high, fmt) },
      { key: "lift", label: T("exp.lift"), num: true, fmt: (v) => signed(v) },
      { key: "lift_ci", label: T("exp.lift_interval"), num: true, fmt: (_, x) => interval(x.lift_low, x.lift_high, (y) => signed(y)) },
      { key: "mde", label: T("exp.mde"), num: true, fmt: (v) => (v === null || v === undefined ? "–" : pct(v, 1)) },
      // sequential analysis: the always-valid p-value and the lift's confidence sequence
      ...(r.analysis === "sequential" ? [
        { key: "seq_p", label: T("exp.seq_p"), num: true, fmt: (v) => (v === null || v === undefined ? "–" : dec(v, 4)) },
        { key: "seq_ci", label: T("exp.seq_interval"), num: true, fmt: (_, x) => interval(x.seq_low, x.seq_high, (y) => signed(y)) },
      ] : []),
    ], r.arms.map((a) => ({
      arm: a.arm, users: a.users, impressions: a.impressions, value: a.primary.value, low: a.primary.low, high: a.primary.high,
      lift: a.primary.lift?.value, lift_low: a.primary.lift?.low, lift_high: a.primary.lift?.high, mde: a.primary.mde,
      seq_p: a.primary.sequential?.p, seq_low: a.primary.sequential?.lift_low, seq_high: a.primary.sequential?.lift_high,
    })), { csv: `experiment-${name}` });
    Charts.bars($("#arms-chart"), r.arms.map((a) => ({
      label: a.arm, value: a.primary.value ?? 0, title: `${a.arm} ${fmt(a.primary.value)} ${interval(a.primary.low, a.primary.high, fmt)}`,
    })), { fmt, label: METRIC(r.primary_metric) });
    const guards = r.arms.flatMap((a) => (a.guardrails || []).map((g) => ({ arm: a.arm, ...g })));
    table($("#guardrails"), [
      { key: "arm", label: T("exp.arm") },
      { key: "metric", label: T("exp.guardrails"), fmt: METRIC },
      { key: "lift", label: T("exp.lift"), num: true, fmt: (v) => signed(v?.value) },
      { key: "tolerance", label: T("exp.tolerance"), num: true, fmt: (v) => pct(v, 1) },
      { key: "status", label: T("common.status"), fmt: (v) => el("span", { class: `badge ${v}`, "data-guard": v }, V("exp.guard", v)) },
    ], guards);
    const form = $("#stop-form");
    if (form) form.hidden = r.status !== "running";
  }

  XQ.start(async () => {
    const list = await experiments();
    const name = chosen(list);
    if (!name) return;
    await report(name);
    const form = $("#stop-form");
    if (form) form.addEventListener("submit", (e) => {
      e.preventDefault();
      track((async () => {
        await api(`/v1/experiments/${enc(name)}/stop`, { method: "POST", body: { reason: $("#stop-reason").value } });
        XQ.flash(T("exp.stopped"));
        await experiments();
        await report(name);
      })().catch((err) => failed(err)));
    });
  });
})();

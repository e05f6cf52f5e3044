/* Overview (罗盘): key figures with their change, GMV per day by channel, the funnel, self-broadcast vs
   creators; for one shop (a merchant key: its own) or the whole platform, over the last N days. */
"use strict";
(() => {
  const { T, V, $, el, api, money, num, pct, qs, table, track } = XQ;
  const KPIS = [
    ["gmv_paid", money], ["quality_gmv", money], ["refunded", money], ["violating", money],
    ["gpm", (v) => XQ.yuan(v)], ["paid_orders", num], ["buyers", num], ["new_customer_share", (v) => pct(v)],
  ];

  const LOWER_IS_BETTER = new Set(["refunded", "violating"]);

  /** The shop filter: a merchant's own shops; for the platform's keys the whole platform, the shop
      asked for in the address, and (fetched beside the page's data) the 50 shops with most GMV. */
  function shops(me) {
    const select = $("#shop");
    const params = new URLSearchParams(location.search);
    const wanted = params.get("shop");
    const add = (ids) => {
      const have = new Set([...select.options].map((o) => o.value));
      for (const id of ids) if (!have.has(id)) select.append(el("option", { value: id }, id));
    };
    const days = params.get("days");
    if (days && [...$("#days").options].some((o) => o.value === days)) $("#days").value = days;
    if (/^\d{4}-\d{2}-\d{2}$/.test(params.get("end") || "")) $("#end").value = params.get("end");
    if (me.role === "merchant") {
      add(me.shops);
      if (wanted && me.shops.includes(wanted)) select.value = wanted;
      return Promise.resolve();
    }
    select.append(el("option", { value: "" }, T("common.platform")));
    if (wanted) add([wanted]);
    select.value = wanted || "";
    return api(`/v1/reports/gmv${qs({ period: "month", by: "shop", top: 50 })}`).then((byShop) => {
      add([...new Set(byShop.rows.map((r) => r.shop))].sort());
    });
  }

  function change(cur, prev) {
    if (cur === null || prev === null || prev === undefined || prev === 0) return null;
    return (cur - prev) / Math.abs(prev);
  }

  function kpis(o) {
    const box = $("#kpis");
    box.replaceChildren();
    for (const [k, fmt] of KPIS) {
      const d = change(o.current[k], o.previous[k]);
      box.append(el("div", { class: "kpi", "data-kpi": k },
        el("div", { class: "name" }, T(`kpi.${k}`)),
        el("div", { class: "value" }, fmt(o.current[k])),
        el("div", { class: `delta ${d === null ? "" : (d >= 0) !== LOWER_IS_BETTER.has(k) ? "up" : "down"}` },
          `${T("common.vs_previous", { n: o.days })} ${d === null ? "–" : (d >= 0 ? "+" : "") + pct(d)}`)));
    }
    $("#gap").textContent = T("overview.gap_parts", { a: money(o.current.refunded), b: money(o.current.violating) });
    $("#span").textContent = o.current_days ? `${o.current_days[0]} – ${o.current_days[1]}` : "";
    const rows = KPIS.map(([k, fmt]) => ({ figure: T(`kpi.${k}`), key: k, current: o.current[k], previous: o.previous[k], fmt }));
    table($("#kpi-table"), [
      { key: "figure", label: T("kpi.figure") },
      { key: "current", label: T("kpi.current"), num: true, fmt: (v, r) => r.fmt(v), csv: (r) => r.current ?? "" },
      { key: "previous", label: T("kpi.previous"), num: true, fmt: (v, r) => r.fmt(v), csv: (r) => r.previous ?? "" },
      { key: "change", label: T("kpi.change"), num: true, fmt: (_, r) => pct(change(r.current, r.previous)), csv: (r) => change(r.current, r.previous) ?? "" },
    ], rows, { csv: "kpis" });
  }

  function gmvByDay(report, o) {
    const first = o.current_days ? o.current_days[0] : "";
    const last = o.current_days ? o.current_days[1] : "";
    const rows = report.rows.filter((r) => r.period >= first && r.period <= last);
    const days = [];
    if (o.current_days) {
      for (let d = new Date(`${o.current_days[0]}T00:00:00Z`); d <= new Date(`${o.current_days[1]}T00:00:00Z`); d.setUTCDate(d.getUTCDate() + 1)) {
        days.push(d.toISOString().slice(0, 10));
      }
    }
    const surfaces = [...new Set(rows.map((r) => r.surface))];
    const series = surfaces.map((sf) => ({
      name: V("surface", sf),
      values: days.map((d) => rows.filter((r) => r.period === d && r.surface === sf).reduce((a, r) => a + r.gmv_paid, 0) / 100),
    }));
    Charts.line($("#gmv-chart"), days, series, { fmt: (v) => "¥" + num(v), label: T("overview.gmv_by_day") });
    table($("#gmv-table"), [
      { key: "period", label: T("common.day") },
      { key: "surface", label: T("overview.channel"), fmt: (v) => V("surface", v) },
      { key: "gmv_paid", label: T("kpi.gmv_paid"), num: true, fmt: money },
      { key: "paid_orders", label: T("kpi.paid_orders"), num: true, fmt: num },
    ], rows, { csv: "gmv-by-day" });
  }

  function funnel(o) {
    const steps = o.funnel.map((s) => ({ label: T(`step.${s.step}`), value: s.count, step: s.step }));
    Charts.funnel($("#funnel-chart"), steps, { fmt: num, rate: (r) => pct(r), label: T("overview.funnel") });
    table($("#funnel-table"), [
      { key: "label", label: T("overview.funnel") },
      { key: "value", label: T("common.count"), num: true, fmt: num },
      { key: "rate", label: T("step.rate"), num: true, fmt: (v) => pct(v) },
    ], steps.map((s, i) => ({ ...s, rate: i && steps[i - 1].value ? s.value / steps[i - 1].value : null })), { csv: "funnel" });
  }

  function channels(report) {
    const rows = report.rows;
    const xs = rows.map((r) => r.period);
    Charts.stacked($("#channels-chart"), xs, ["self", "creator", "other"].map((c) => ({
      name: T(`channel.${c}`), values: rows.map((r) => r[`gmv_${c}`] / 100),
    })), { fmt: (v) => "¥" + num(v), label: T("overview.channels") });
    $("#private").textContent = `${T("overview.private_share")}: ${pct(report.private_share)}`;
    table($("#channels-table"), [
      { key: "period", label: T("common.week") },
      { key: "gmv_self", label: T("channel.self"), num: true, fmt: money },
      { key: "gmv_creator", label: T("channel.creator"), num: true, fmt: money },
      { key: "gmv_other", label: T("channel.other"), num: true, fmt: money },
      { key: "self_share", label: `${T("channel.self")} ${T("common.share")}`, num: true, fmt: (v) => pct(v) },
    ], rows, { csv: "channels" });
  }

  async function load() {
    const shop = $("#shop").value || null;
    const days = Number($("#days").value);
    const end = $("#end").value || null;
    const [o, g, c] = await Promise.all([
      api(`/v1/reports/overview${qs({ shop, days, end })}`),
      api(`/v1/reports/gmv${qs({ period: "day", by: "surface", shop, top: 10 })}`),
      api(`/v1/reports/channels${qs({ period: "week", shop })}`),
    ]);
    if (!end && o.current_days) $("#end").value = o.current_days[1];
    kpis(o);
    gmvByDay(g, o);
    funnel(o);
    channels(c);
  }

  XQ.start(async (me) => {
    const listed = shops(me);
    for (const id of ["#shop", "#days", "#end"]) $(id).addEventListener("change", () => {
      const u = new URL(location.href);
      u.searchParams.set("shop", $("#shop").value);
      u.searchParams.set("days", $("#days").value);
      u.searchParams.set("end", $("#end").value);
      history.replaceState(null, "", u);
      track(load().catch((e) => XQ.failed(e)));
    });
    await Promise.all([listed, load()]);
  });
})();

// The testing dashboard: draws tests per day (stacked by test type, with the positivity
// line) as inline SVG, and keeps the figures, tables and chart live from the server's
// event stream. The page shows the same figures without it; nothing here is downloaded.
"use strict";

(() => {
  const root = document.getElementById("dashboard");
  const embedded = document.getElementById("dashboard-data");
  if (!root || !embedded) return;
  const vi = root.dataset.lang !== "en";
  const SVG = "http://www.w3.org/2000/svg";
  const DAY_MS = 86400000;

  // Numbers as the server writes them (pages/dashboard.rs): 1.234 and 12,5% in
  // Vietnamese, 1,234 and 12.5% in English.
  function number(n) {
    const digits = String(Math.abs(Math.trunc(n)));
    return (n < 0 ? "-" : "") + digits.replace(/\B(?=(\d{3})+(?!\d))/g, vi ? "." : ",");
  }

  function percent(share) {
    if (share === null || share === undefined || !Number.isFinite(share)) return "\u2014";
    const tenths = Math.round(share * 1000);
    return number(Math.trunc(tenths / 10)) + (vi ? "," : ".") + (tenths % 10) + "%";
  }

  const hours = (h) => (h === null || h === undefined ? "\u2014" : number(h));

  // Dates arrive as "YYYY-MM-DD" or as [year, day of the year].
  function toDate(value) {
    if (Array.isArray(value)) return new Date(Date.UTC(value[0], 0, value[1]));
    const [y, m, d] = String(value).split("-").map(Number);
    return new Date(Date.UTC(y, m - 1, d));
  }
  const pad = (n) => String(n).padStart(2, "0");
  const dayText = (date) => `${pad(date.getUTCDate())}/${pad(date.getUTCMonth() + 1)}/${date.getUTCFullYear()}`;
  const shortDay = (date) => `${pad(date.getUTCDate())}/${pad(date.getUTCMonth() + 1)}`;

  function share(t) {
    const conclusive = t.positive + t.negative;
    return conclusive > 0 ? t.positive / conclusive : null;
  }

  // Both test types of a day together, by the day's time value.
  function byDay(d) {
    const days = new Map();
    for (const entry of d.days) {
      const date = toDate(entry.day);
      const key = date.getTime();
      if (!days.has(key)) days.set(key, { date, pcr: 0, rapid: 0, positive: 0, negative: 0 });
      const day = days.get(key);
      if (entry.test_type === "rapid_antigen") day.rapid += entry.collected;
      else day.pcr += entry.collected;
      day.positive += entry.positive;
      day.negative += entry.negative;
    }
    return days;
  }

  function setText(id, text) {
    const element = document.getElementById(id);
    if (element && element.textContent !== text) element.textContent = text;
  }

  function row(cells) {
    const tr = document.createElement("tr");
    cells.forEach((cell, i) => {
      const td = document.createElement("td");
      if (i > 0) td.className = "num";
      if (cell instanceof Node) td.append(cell);
      else td.textContent = cell;
      tr.append(td);
    });
    return tr;
  }

  function emptyRow(columns, text) {
    const tr = document.createElement("tr");
    tr.className = "empty";
    const td = document.createElement("td");
    td.colSpan = columns;
    td.className = "hint";
    td.textContent = text;
    tr.append(td);
    return tr;
  }

  function fillDays(d) {
    const body = document.querySelector("#dash-days tbody");
    if (!body) return;
    const days = [...byDay(d).values()].sort((a, b) => b.date - a.date);
    const rows = days.map((x) =>
      row([dayText(x.date), number(x.pcr), number(x.rapid), number(x.positive), percent(share(x))]),
    );
    body.replaceChildren(...(rows.length ? rows : [emptyRow(5, root.dataset.noDays)]));
  }

  function fillChildren(d) {
    const body = document.querySelector("#dash-children tbody");
    if (!body) return;
    const rows = d.children.map((c) => {
      const cell = document.createDocumentFragment();
      const link = document.createElement("a");
      link.href = `/testing/dashboard?unit=${encodeURIComponent(c.code)}&days=${encodeURIComponent(root.dataset.days)}`;
      link.textContent = c.name;
      const code = document.createElement("span");
      code.className = "meta code";
      code.textContent = c.code;
      cell.append(link, " ", code);
      return row([cell, number(c.collected), number(c.positive), percent(c.positivity)]);
    });
    body.replaceChildren(...(rows.length ? rows : [emptyRow(4, root.dataset.noChildren)]));
  }

  function node(name, attributes, parent) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes || {})) element.setAttribute(key, String(value));
    if (parent) parent.append(element);
    return element;
  }

  function text(parent, x, y, content, className, anchor) {
    const element = node("text", { x, y, class: className, "text-anchor": anchor || "middle" }, parent);
    element.textContent = content;
    return element;
  }

  // 1, 2 or 5 times a power of ten, at least `value`.
  function niceMax(value) {
    if (value <= 1) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
    return 10 * power;
  }

  function draw(d) {
    const chart = document.getElementById("dash-chart");
    if (!chart) return;
    const W = 640;
    const H = 260;
    const left = 44;
    const right = 52;
    const top = 14;
    const bottom = 32;
    const plotW = W - left - right;
    const plotH = H - top - bottom;
    const from = toDate(d.from);
    const count = Math.max(1, Math.round((toDate(d.to) - from) / DAY_MS) + 1);
    const days = byDay(d);
    const series = [];
    for (let i = 0; i < count; i++) {
      const date = new Date(from.getTime() + i * DAY_MS);
      series.push(days.get(date.getTime()) || { date, pcr: 0, rapid: 0, positive: 0, negative: 0 });
    }
    const most = Math.max(0, ...series.map((s) => s.pcr + s.rapid));
    const yMax = niceMax(most);
    const shares = series.map(share);
    const highest = Math.max(0, ...shares.filter((s) => s !== null));
    const pMax = [0.05, 0.1, 0.2, 0.5, 1].find((p) => p >= highest) || 1;
    const y = (n) => top + plotH - (n / yMax) * plotH;
    const py = (p) => top + plotH - (p / pMax) * plotH;
    const band = plotW / count;
    const barW = Math.max(1, band * 0.72);

    const svg = node("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart-svg", focusable: "false", "aria-hidden": "true" });
    const axes = node("g", { class: "axes" }, svg);
    for (const tick of [0, yMax / 2, yMax].filter(Number.isInteger)) {
      node("line", { x1: left, x2: W - right, y1: y(tick), y2: y(tick), class: "grid" }, axes);
      text(axes, left - 6, y(tick) + 4, number(tick), "axis-label", "end");
    }
    for (const p of [0, pMax / 2, pMax]) {
      text(axes, W - right + 6, py(p) + 4, percent(p), "axis-label positivity-label", "start");
    }
    const labelled = [...new Set([0, Math.floor((count - 1) / 2), count - 1])];
    for (const i of labelled) {
      const anchor = count > 1 && i === 0 ? "start" : count > 1 && i === count - 1 ? "end" : "middle";
      const x = anchor === "start" ? left : anchor === "end" ? W - right : left + i * band + band / 2;
      text(axes, x, H - 10, shortDay(series[i].date), "axis-label", anchor);
    }

    const bars = node("g", { class: "bars" }, svg);
    series.forEach((s, i) => {
      if (s.pcr + s.rapid === 0) return;
      const group = node("g", { class: "day" }, bars);
      const title = node("title", {}, group);
      title.textContent =
        `${dayText(s.date)} \u2014 ${root.dataset.rtPcr}: ${number(s.pcr)}, ${root.dataset.rapid}: ${number(s.rapid)}, ` +
        `${root.dataset.positivity}: ${percent(shares[i])}`;
      const x = left + i * band + (band - barW) / 2;
      if (s.pcr > 0) node("rect", { x, y: y(s.pcr), width: barW, height: y(0) - y(s.pcr), class: "bar-pcr" }, group);
      if (s.rapid > 0) {
        const topOf = y(s.pcr + s.rapid);
        node("rect", { x, y: topOf, width: barW, height: y(s.pcr) - topOf, class: "bar-rapid" }, group);
      }
    });

    const points = [];
    shares.forEach((p, i) => {
      if (p !== null) points.push([left + i * band + band / 2, py(p)]);
    });
    if (points.length > 1) {
      node("polyline", { points: points.map((p) => p.join(",")).join(" "), class: "line-positivity" }, svg);
    }
    if (points.length <= 45) {
      for (const [cx, cy] of points) node("circle", { cx, cy, r: 3, class: "dot-positivity" }, svg);
    }
    if (most === 0) text(svg, left + plotW / 2, top + plotH / 2, root.dataset.noDays, "chart-empty");
    chart.replaceChildren(svg);
  }

  function show(d) {
    setText("dash-unit-name", d.unit_name);
    setText("dash-period", `${dayText(toDate(d.from))} \u2013 ${dayText(toDate(d.to))}`);
    setText("dash-tests", number(d.totals.collected));
    setText("dash-positive", number(d.totals.positive));
    setText("dash-positivity", percent(d.positivity));
    setText("dash-pending", number(d.pending));
    setText("dash-tat-median", hours(d.turnaround.median_hours));
    setText("dash-tat-p90", hours(d.turnaround.p90_hours));
    fillDays(d);
    fillChildren(d);
    draw(d);
  }

  try {
    draw(JSON.parse(embedded.textContent));
  } catch (e) {
    // The tables still show the figures.
  }

  const live = document.getElementById("dash-live");
  const setLive = (on) => {
    if (live) live.dataset.live = on ? "on" : "off";
  };
  if ("EventSource" in window && root.dataset.stream) {
    // The browser reconnects by itself after a network failure; each (re)connection
    // starts with the current dashboard.
    const source = new EventSource(root.dataset.stream);
    source.addEventListener("open", () => setLive(true));
    source.addEventListener("error", () => setLive(false));
    source.addEventListener("dashboard", (event) => {
      let next;
      try {
        next = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      show(next);
      setLive(true);
    });
  }
})();

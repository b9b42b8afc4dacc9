// Kelisim admin page: the consent analytics' charts, drawn as SVG from the API's aggregates
// (GET …/analytics). Axes with ticks, a legend, the numbers on hover and keyboard focus, and
// a <table> with the same numbers for screen readers. No inline code (strict CSP): sizes are
// attributes, colours are classes in admin.css, the tooltip is moved through the CSSOM.
"use strict";

const KelisimCharts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const W = 960;
  const H = 280;
  // The rate charts sit three in a row: a narrower drawing keeps their text readable.
  const RW = 400;
  const M = { top: 12, right: 12, bottom: 44, left: 48 };

  function el(name, attrs = {}, text) {
    const node = document.createElementNS(NS, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // Round tick steps (1, 2, 5 × 10^n) so the axis reads at a glance.
  function ticks(max, count = 5) {
    if (max <= 0) return [0, 1];
    const raw = max / count;
    const pow = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw);
    const out = [];
    for (let v = 0; v < max + step; v += step) out.push(Math.round(v * 1e6) / 1e6);
    return out;
  }

  // One tooltip per page, filled and moved on hover or focus of a mark.
  function tooltip() {
    let tip = document.getElementById("chart-tip");
    if (!tip) {
      tip = document.createElement("div");
      tip.id = "chart-tip";
      tip.className = "chart-tip";
      tip.setAttribute("role", "status");
      tip.hidden = true;
      document.body.append(tip);
    }
    return tip;
  }

  function attachTip(mark, text) {
    const tip = tooltip();
    const showAt = (x, y) => {
      tip.textContent = text;
      tip.hidden = false;
      tip.style.left = Math.round(x + window.scrollX + 12) + "px";
      tip.style.top = Math.round(y + window.scrollY + 12) + "px";
    };
    const hide = () => { tip.hidden = true; };
    mark.addEventListener("mousemove", (e) => showAt(e.clientX, e.clientY));
    mark.addEventListener("mouseleave", hide);
    mark.addEventListener("focus", () => {
      const box = mark.getBoundingClientRect();
      showAt(box.left + box.width / 2, box.top);
    });
    mark.addEventListener("blur", hide);
  }

  function legend(series, t) {
    const ul = document.createElement("ul");
    ul.className = "legend";
    for (const s of series) {
      const li = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch " + s.cls;
      swatch.setAttribute("aria-hidden", "true");
      li.append(swatch, document.createTextNode(t(s.key)));
      ul.append(li);
    }
    return ul;
  }

  function table(caption, head, rows) {
    const tbl = document.createElement("table");
    tbl.className = "visually-hidden chart-table";
    const cap = document.createElement("caption");
    cap.textContent = caption;
    const thead = document.createElement("thead");
    const hr = document.createElement("tr");
    for (const h of head) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = h;
      hr.append(th);
    }
    thead.append(hr);
    const tbody = document.createElement("tbody");
    for (const row of rows) {
      const tr = document.createElement("tr");
      row.forEach((v, i) => {
        const c = document.createElement(i === 0 ? "th" : "td");
        if (i === 0) c.scope = "row";
        c.textContent = v;
        tr.append(c);
      });
      tbody.append(tr);
    }
    tbl.append(cap, thead, tbody);
    return tbl;
  }

  // Stacked bars, one per bucket: `series` are { key, cls } over `buckets[i][key]`.
  function stacked(host, { title, buckets, series, label, t }) {
    const max = Math.max(0, ...buckets.map((b) => series.reduce((n, s) => n + b[s.key], 0)));
    const ys = ticks(max);
    const top = ys[ys.length - 1];
    const iw = W - M.left - M.right;
    const ih = H - M.top - M.bottom;
    const y = (v) => M.top + ih - (v / top) * ih;
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, role: "group", "aria-label": title, class: "chart" });
    for (const v of ys) {
      svg.append(el("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: "grid" }));
      svg.append(el("text", { x: M.left - 6, y: y(v) + 4, "text-anchor": "end", class: "tick" }, String(v)));
    }
    svg.append(el("line", { x1: M.left, x2: M.left, y1: M.top, y2: M.top + ih, class: "axis" }));
    svg.append(el("line", { x1: M.left, x2: W - M.right, y1: M.top + ih, y2: M.top + ih, class: "axis" }));
    const band = iw / Math.max(buckets.length, 1);
    const every = Math.max(1, Math.ceil(buckets.length / 10));
    buckets.forEach((b, i) => {
      const x = M.left + i * band;
      const words = series.map((s) => t(s.key) + ": " + b[s.key]).join(", ");
      const g = el("g", { tabindex: 0, role: "img", "aria-label": label(b) + " — " + words, class: "bucket" });
      let acc = 0;
      for (const s of series) {
        const v = b[s.key];
        if (v > 0) {
          g.append(el("rect", { x: x + band * 0.15, width: Math.max(band * 0.7, 1), y: y(acc + v), height: y(acc) - y(acc + v), class: s.cls }));
        }
        acc += v;
      }
      // A transparent hit area the whole height, so an empty bucket still shows its zeros.
      g.append(el("rect", { x, width: band, y: M.top, height: ih, class: "hit" }));
      attachTip(g, label(b) + "\n" + series.map((s) => t(s.key) + ": " + b[s.key]).join("\n"));
      svg.append(g);
      if (i % every === 0) {
        svg.append(el("text", { x: x + band / 2, y: M.top + ih + 16, "text-anchor": "middle", class: "tick" }, label(b)));
      }
    });
    const head = [t("chart_bucket"), ...series.map((s) => t(s.key))];
    const rows = buckets.map((b) => [label(b), ...series.map((s) => String(b[s.key]))]);
    host.replaceChildren(svg, legend(series, t), table(title, head, rows));
  }

  // Horizontal bars of shares (0–100 %), one per row: { name, rate, detail }.
  function rates(host, { title, rows, t }) {
    const rowH = 28;
    const left = 120;
    const h = M.top + rows.length * rowH + 30;
    const iw = RW - left - M.right - 40;
    const x = (r) => left + r * iw;
    const svg = el("svg", { viewBox: `0 0 ${RW} ${h}`, role: "group", "aria-label": title, class: "chart" });
    const base = M.top + rows.length * rowH;
    for (const p of [0, 0.25, 0.5, 0.75, 1]) {
      svg.append(el("line", { x1: x(p), x2: x(p), y1: M.top, y2: base, class: "grid" }));
      svg.append(el("text", { x: x(p), y: base + 18, "text-anchor": "middle", class: "tick" }, Math.round(p * 100) + " %"));
    }
    svg.append(el("line", { x1: left, x2: left, y1: M.top, y2: base, class: "axis" }));
    const pct = (r) => (r === null || r === undefined ? "—" : (Math.round(r * 1000) / 10) + " %");
    rows.forEach((r, i) => {
      const y = M.top + i * rowH;
      svg.append(el("text", { x: left - 8, y: y + rowH / 2 + 5, "text-anchor": "end", class: "tick" }, r.name));
      const words = r.name + ": " + pct(r.rate) + " (" + r.detail + ")";
      const g = el("g", { tabindex: 0, role: "img", "aria-label": words, class: "bucket" });
      g.append(el("rect", { x: left, y: y + 5, width: Math.max(0, (r.rate || 0) * iw), height: rowH - 10, class: "bar-rate" }));
      g.append(el("rect", { x: left, y, width: iw, height: rowH, class: "hit" }));
      g.append(el("text", { x: x(r.rate || 0) + 6, y: y + rowH / 2 + 5, class: "value" }, pct(r.rate)));
      attachTip(g, words);
      svg.append(g);
    });
    const tbl = table(title, [t("chart_name"), t("chart_rate"), t("chart_counts")], rows.map((r) => [r.name, pct(r.rate), r.detail]));
    host.replaceChildren(svg, tbl);
  }

  return { stacked, rates, ticks };
})();

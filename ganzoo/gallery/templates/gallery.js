// ganzoo gallery: the sample slider of a run page and the side-by-side comparison.
// Plain JavaScript, no libraries; data comes from assets/data.js and each page's own script.
"use strict";

(function () {
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // -- a run page: the slider walks through the sample grids over training --------------------
  function setupSlider() {
    var slider = document.getElementById("sample-slider");
    var run = window.GANZOO_RUN;
    if (!slider || !run) return;
    var img = document.getElementById("sample-image");
    var label = document.getElementById("sample-step");
    function show(i) {
      var s = run.samples[i];
      img.src = s.src;
      img.alt = "samples at step " + s.step;
      img.dataset.step = String(s.step);
      label.textContent = "step " + s.step + " (" + (i + 1) + " of " + run.samples.length + ")";
    }
    slider.addEventListener("input", function () { show(Number(slider.value)); });
    show(Number(slider.value));
  }

  // -- compare.html?a=SLUG&b=SLUG ---------------------------------------------------------------
  function setupCompare() {
    var root = document.getElementById("compare");
    var data = window.GANZOO_GALLERY;
    if (!root || !data) return;
    var params = new URLSearchParams(window.location.search);
    var slugs = data.runs.map(function (r) { return r.slug; });
    var pick = [params.get("a"), params.get("b")];
    if (slugs.indexOf(pick[0]) < 0) pick[0] = slugs[0];
    if (slugs.indexOf(pick[1]) < 0) pick[1] = slugs[1 % slugs.length];
    var bySlug = {};
    data.runs.forEach(function (r) { bySlug[r.slug] = r; });

    var form = el("form", { "class": "pickers", method: "get", action: "compare.html" });
    ["a", "b"].forEach(function (key, i) {
      var select = el("select", { name: key, id: "pick-" + key });
      data.runs.forEach(function (r) {
        var option = el("option", { value: r.slug }, r.name);
        if (r.slug === pick[i]) option.selected = true;
        select.appendChild(option);
      });
      select.addEventListener("change", function () { form.submit(); });
      form.appendChild(el("label", {}, key === "a" ? "left" : "right"));
      form.appendChild(select);
    });
    root.appendChild(form);

    var a = bySlug[pick[0]], b = bySlug[pick[1]];
    var grid = el("div", { "class": "compare-grid" });
    [a, b].forEach(function (r, i) {
      var col = el("section", { id: "side-" + (i ? "b" : "a") });
      var h = el("h2");
      h.appendChild(el("a", { href: r.page }, r.name));
      col.appendChild(h);
      col.appendChild(el("p", { "class": "muted" },
        r.arch + " on " + r.data + " · step " + r.steps +
        (r.best_fd === null ? "" : " · best FD " + r.best_fd.toFixed(2))));
      if (r.image) col.appendChild(el("img", { src: r.image, "class": "pixel", alt: r.name + " samples" }));
      if (r.losses_svg) {
        var chart = el("div", { "class": "charts" });
        chart.innerHTML = r.losses_svg;  // written by ganzoo gallery, every text escaped
        col.appendChild(chart);
      }
      grid.appendChild(col);
    });
    root.appendChild(grid);

    root.appendChild(el("h2", {}, "Configuration"));
    var keys = Object.keys(a.config);
    Object.keys(b.config).forEach(function (k) { if (keys.indexOf(k) < 0) keys.push(k); });
    var table = el("table", { id: "config-diff" });
    var head = el("tr");
    ["option", a.name, b.name].forEach(function (t) { head.appendChild(el("th", {}, t)); });
    table.appendChild(head);
    var differing = 0;
    keys.forEach(function (k) {
      var va = k in a.config ? a.config[k] : "—";
      var vb = k in b.config ? b.config[k] : "—";
      var row = el("tr", { "data-key": k });
      if (va !== vb && k !== "ganzoo_version") { row.className = "diff"; differing += 1; }
      [k, va, vb].forEach(function (t) { row.appendChild(el("td", {}, t)); });
      table.appendChild(row);
    });
    var summary = el("p", { id: "diff-count", "class": "muted" },
      differing + " option" + (differing === 1 ? "" : "s") + " differ (highlighted) ");
    var only = el("input", { type: "checkbox", id: "only-diff" });
    only.addEventListener("change", function () {
      table.classList.toggle("only-diff", only.checked);
    });
    var label = el("label", {}, " show only these");
    label.prepend(only);
    summary.appendChild(label);
    root.appendChild(summary);
    root.appendChild(table);
  }

  setupSlider();
  setupCompare();
})();

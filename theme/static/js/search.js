// Live search: the form works without JavaScript (the server renders results at
// /search/?q=...); with JavaScript the same URL state drives calls to /api/search,
// facet checkboxes with counts, a year histogram, sorting, paging and export links.
(function () {
  "use strict";
  var form = document.getElementById("search-form");
  if (!form || !window.fetch || !window.URLSearchParams) { return; }
  var statusBox = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var facetsBox = document.getElementById("search-facets");
  // The facets (name, API parameter, label) come from the page, which has them from the one
  // table of search fields (scraper/data/search_fields.yaml).
  var FACETS = [];
  var FILTER_PARAM = {};
  try { FACETS = JSON.parse(facetsBox.getAttribute("data-fields") || "[]"); } catch (e) { FACETS = []; }
  FACETS.forEach(function (f) { FILTER_PARAM[f.name] = f.param; });

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function stateFromUrl() { return new URLSearchParams(window.location.search); }

  function render(data, params) {
    statusBox.textContent = "";
    if (data.notice) { statusBox.appendChild(el("p", { "class": "notice" }, data.notice)); }
    var summary = el("p");
    summary.appendChild(document.createTextNode("找到 "));
    summary.appendChild(el("strong", {}, String(data.total)));
    summary.appendChild(document.createTextNode(" 个案例（" + Math.round(data.took_ms) + " 毫秒）。"));
    if (data.total) {
      ["csv", "json"].forEach(function (fmt) {
        var p = new URLSearchParams(params); p.set("format", fmt); p.delete("page");
        summary.appendChild(document.createTextNode(" "));
        summary.appendChild(el("a", { href: "/api/export?" + p.toString() }, "导出 " + fmt.toUpperCase()));
      });
    }
    statusBox.appendChild(summary);
    if (data.did_you_mean && data.did_you_mean.length) {
      var hint = el("p", {}, "您是不是要找：");
      data.did_you_mean.forEach(function (s) {
        var a = el("a", { href: "?q=" + encodeURIComponent(s) }, s);
        a.addEventListener("click", function (e) { e.preventDefault(); form.q.value = s; go(1); });
        hint.appendChild(a); hint.appendChild(document.createTextNode(" "));
      });
      statusBox.appendChild(hint);
    }
    list.textContent = "";
    data.results.forEach(function (r) {
      var li = el("li", { "class": "case-item" });
      var h = el("h2", { "class": "case-item-title" });
      var a = r.url ? el("a", { href: r.url }) : el("span");   // null: the server found the URL unsafe
      a.innerHTML = r.title_html;            // escaped by the server, <mark> added
      h.appendChild(a); li.appendChild(h);
      li.appendChild(el("p", { "class": "case-item-meta" },
        r.date.slice(0, 10) + " · " + r.category + (r.banks.length ? " · " + r.banks.join("、") : "") +
        (r.province ? " · " + r.province : "")));
      var snip = el("p", { "class": "snippet" });
      snip.innerHTML = r.snippet;             // escaped by the server, <mark> added
      li.appendChild(snip);
      list.appendChild(li);
    });
    renderFacets(data.facets || {}, params);
    renderPager(data, params);
  }

  function renderFacets(facets, params) {
    facetsBox.textContent = "";
    FACETS.forEach(function (pair) {
      var name = pair.name, items = facets[name] || [];
      if (!items.length) { return; }
      var fs = el("fieldset"); fs.appendChild(el("legend", {}, pair.label));
      var active = params.getAll(FILTER_PARAM[name]);
      var max = Math.max.apply(null, items.map(function (i) { return i.count; }));
      items.slice(0, 12).forEach(function (item, i) {
        var id = "f-" + name + "-" + i;
        var row = el("div", { "class": "facet-row" });
        var box = el("input", { type: "checkbox", id: id, value: item.value });
        box.checked = active.indexOf(item.value) >= 0;
        box.addEventListener("change", function () {
          var p = stateFromUrl(); var key = FILTER_PARAM[name];
          var values = p.getAll(key).filter(function (v) { return v !== item.value; });
          if (box.checked) { values.push(item.value); }
          p.delete(key); values.forEach(function (v) { p.append(key, v); }); p.delete("page");
          navigate(p);
        });
        var label = el("label", { "for": id }, item.value + "（" + item.count + "）");
        row.appendChild(box); row.appendChild(label);
        if (name === "year") {
          var bar = el("span", { "class": "bar", "aria-hidden": "true" });
          bar.style.width = Math.max(4, Math.round(100 * item.count / max)) + "%";
          row.appendChild(bar);
        }
        fs.appendChild(row);
      });
      facetsBox.appendChild(fs);
    });
  }

  function renderPager(data, params) {
    var old = document.getElementById("live-pager");
    if (old) { old.parentNode.removeChild(old); }
    var pages = Math.ceil(data.total / data.page_size);
    if (pages <= 1) { return; }
    var nav = el("nav", { id: "live-pager", "class": "pagination", "aria-label": "分页" });
    if (data.page > 1) { nav.appendChild(pageLink("上一页", data.page - 1)); }
    nav.appendChild(el("span", {}, "第 " + data.page + " / " + pages + " 页"));
    if (data.page < pages) { nav.appendChild(pageLink("下一页", data.page + 1)); }
    list.parentNode.parentNode.insertBefore(nav, list.parentNode.nextSibling);
  }

  function pageLink(text, page) {
    var p = stateFromUrl(); p.set("page", page);
    var a = el("a", { href: "?" + p.toString() }, text);
    a.addEventListener("click", function (e) { e.preventDefault(); navigate(p); });
    return a;
  }

  function load(params) {
    if (!params.get("q") && !params.toString()) { return; }
    var api = new URLSearchParams(params); api.set("limit", "10");
    statusBox.textContent = "正在检索…";
    fetch("/api/search?" + api.toString(), { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (!res.ok) { statusBox.textContent = res.body.error || "检索失败，请修改后重试。"; return; }
        render(res.body, params);
      })
      .catch(function () { statusBox.textContent = "无法连接检索服务，请稍后再试。"; });
  }

  function navigate(params) {
    history.pushState(null, "", "?" + params.toString());
    load(params);
  }

  function go(page) {
    var p = stateFromUrl();
    p.set("q", form.q.value); p.set("sort", form.sort.value);
    if (page > 1) { p.set("page", page); } else { p.delete("page"); }
    navigate(p);
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); go(1); });
  form.sort.addEventListener("change", function () { go(1); });
  window.addEventListener("popstate", function () { load(stateFromUrl()); });
  var initial = stateFromUrl();
  if (initial.get("q") !== null && !list.children.length) { load(initial); }
}());

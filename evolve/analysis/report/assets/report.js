(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var svgNS = "http://www.w3.org/2000/svg";
  var tree = document.getElementById("tree");
  var byId = {};
  data.nodes.forEach(function (n) { byId[n.id] = n; });
  var onPath = {};
  data.path.forEach(function (id) { onPath[id] = true; });
  // Colour by rank, not value: one outlier must not wash out the rest.
  var sign = data.maximize ? 1 : -1;
  var ranked = data.nodes.filter(function (n) { return n.score !== null; })
    .sort(function (a, b) { return sign * (a.score - b.score); });
  var rankOf = {};
  ranked.forEach(function (n, i) { rankOf[n.id] = ranked.length > 1 ? i / (ranked.length - 1) : 1; });
  var xs = data.nodes.map(function (n) { return n.x; });
  var ys = data.nodes.map(function (n) { return n.y; });
  var minY = Math.min.apply(null, ys.concat([0])), maxY = Math.max.apply(null, ys.concat([0]));
  var maxX = Math.max.apply(null, xs.concat([1]));
  // Wide or tall trees get tighter spacing (deep runs have hundreds of generations).
  var dx = Math.max(10, Math.min(46, 2400 / Math.max(1, maxX)));
  var dy = Math.max(6, Math.min(14, 4000 / Math.max(1, maxY - minY))), pad = 12;
  tree.setAttribute("width", String(pad * 2 + dx * maxX + 10));
  tree.setAttribute("height", String(pad * 2 + dy * (maxY - minY) + 10));
  function px(n) { return pad + dx * n.x; }
  function py(n) { return pad + dy * (n.y - minY); }
  function colour(n) {
    if (n.score === null) { return "#bbbbbb"; }
    var t = rankOf[n.id];
    return "hsl(" + Math.round(240 - 180 * t) + ",70%,50%)";
  }
  data.nodes.forEach(function (n) {
    var p = n.parent && byId[n.parent];
    if (!p) { return; }
    var line = document.createElementNS(svgNS, "line");
    line.setAttribute("x1", px(p)); line.setAttribute("y1", py(p));
    line.setAttribute("x2", px(n)); line.setAttribute("y2", py(n));
    line.setAttribute("stroke", onPath[n.id] && onPath[p.id] ? "#d62728" : "#cccccc");
    line.setAttribute("stroke-width", onPath[n.id] && onPath[p.id] ? "2" : "0.7");
    tree.appendChild(line);
  });
  // What a program tried that its sandbox refused (null: not monitored).
  function probeText(n) {
    if (!n.probes) { return "not monitored"; }
    return n.probes.tried ? "tried " + n.probes.tried : "none";
  }
  var selected = null;
  function show(n, circle) {
    if (selected) { selected.classList.remove("selected"); }
    selected = circle; circle.classList.add("selected");
    document.getElementById("sel-title").textContent = n.id + (onPath[n.id] ? " (on the path to the best)" : "");
    var body = document.querySelector("#sel-meta tbody");
    while (body.firstChild) { body.removeChild(body.firstChild); }
    var rows = [["score", n.score], ["status", n.status], ["island", n.island], ["parent", n.parent],
                ["parents", (n.parents || []).join(", ")], ["model", n.model], ["edit", n.edit],
                ["prompt hash", n.prompt_hash], ["record hash", n.record_hash],
                ["review", n.review || "not reviewed"], ["verified", n.verified || "not verified"],
                ["sandbox probes", probeText(n)], ["reason", n.reason]];
    ((n.probes && n.probes.log) || []).forEach(function (line) { rows.push(["", line]); });
    Object.keys(n.metrics).forEach(function (k) { rows.push([k, n.metrics[k]]); });
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      [r[0], r[1] === null || r[1] === undefined ? "" : String(r[1])].forEach(function (t) {
        var td = document.createElement("td"); td.textContent = t; tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    var code = data.code[n.id];
    document.getElementById("sel-code").textContent =
      code === undefined ? "(code not embedded: the report keeps the path to the best and the top programs)" : code;
    var diff = data.diff[n.id];
    document.getElementById("sel-diff").textContent =
      diff === undefined ? "" : (diff || "(the seed: no parent)");
  }
  data.nodes.forEach(function (n) {
    var c = document.createElementNS(svgNS, "circle");
    c.setAttribute("cx", px(n)); c.setAttribute("cy", py(n)); c.setAttribute("r", "5");
    c.setAttribute("fill", colour(n));
    c.setAttribute("data-id", n.id);
    if (onPath[n.id]) { c.classList.add("on-path"); }
    var probed = n.probes && n.probes.tried;
    if (probed) { c.classList.add("probed"); }
    var title = document.createElementNS(svgNS, "title");
    title.textContent = n.id + "  score " + n.score + (probed ? "  (tried " + n.probes.tried + ")" : "");
    c.appendChild(title);
    c.addEventListener("click", function () { show(n, c); });
    tree.appendChild(c);
  });
  var codeCount = Object.keys(data.code).length;
  document.getElementById("tree-note").textContent = (data.sampled
    ? "(showing " + data.nodes.length + " of " + data.total + " programs: the path to the best and an even sample"
    : "(" + data.nodes.length + " programs; the path to the best in red") +
    "; colour: rank of the score, blue worst to yellow best, grey unscored" +
    "; a dashed purple ring: it tried what its sandbox refuses" +
    (codeCount < data.nodes.length
      ? "; code embedded for " + codeCount + " of them: the path to the best and the top scores)"
      : ")");
  var best = data.path.length ? data.path[data.path.length - 1] : null;
  if (best && byId[best]) {
    show(byId[best], tree.querySelector('circle[data-id="' + best + '"]'));
  }
})();

"use strict";
// Steps through the forward pass and the backward sweep of the tape described by #data (written
// by chainrule's viz::to_html). Step 0 is the recorded tape, steps 1..N compute one node each,
// steps N+1..N+S run one backward rule each, and the last step shows the parameters' gradients.
// The step is kept in the address (#step=12) so that a link opens it.
(function () {
  const started = performance.now();
  const D = JSON.parse(document.getElementById("data").textContent);
  const parsed = performance.now();
  const G = D.geometry;
  const N = D.nodes.length, S = D.steps.length, LAST = N + S + 1;
  const large = N > D.drawAll;
  const pane = document.getElementById("pane"), svg = document.getElementById("graph");
  const scene = document.getElementById("scene"), panel = document.getElementById("panel");
  const slider = document.getElementById("slider");
  const into = D.nodes.map(() => []), out = D.nodes.map(() => []);
  D.edges.forEach((e, k) => { out[e[0]].push(k); into[e[1]].push(k); });
  // A short graph is drawn larger, up to 1.3×, to fill the pane's height: easier to read from
  // the back of a lecture hall.
  const baseZoom = Math.min(1.3, Math.max(D.zoom, (pane.clientHeight - 40) / G.height));
  let step = -1, zoom = baseZoom, fit = false, now = null;

  function esc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;")
      .replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }

  // What every card shows at step s, and which nodes and edges are highlighted.
  function state(s) {
    const st = {
      value: new Array(N), grad: new Array(N), cls: new Array(N).fill(""),
      count: new Int32Array(N), fresh: new Array(N).fill(""), current: -1, operands: [],
    };
    const shown = Math.min(s, N);
    for (let i = 0; i < N; i++) {
      st.value[i] = i < shown ? D.nodes[i].v : null;
      st.grad[i] = null;
      if (i >= shown) st.cls[i] = "pending";
    }
    if (s >= 1 && s <= N) {
      st.current = s - 1;
      st.operands = D.nodes[s - 1].in;
      st.fresh[s - 1] = "value";
    }
    if (s > N) {
      for (let i = 0; i < N; i++) if (!D.nodes[i].need) st.grad[i] = [D.text.nograd];
      st.grad[D.loss] = D.seed;
      const ran = Math.min(s - N, S);
      for (let k = 0; k < ran; k++) {
        for (const t of D.steps[k].terms) { st.grad[t.i] = t.lines; st.count[t.i] += 1; }
      }
      if (s <= N + S) {
        const here = D.steps[s - N - 1];
        st.current = here.n;
        st.operands = here.terms.map((t) => t.i);
        for (const i of st.operands) st.fresh[i] = "grad";
      }
    }
    if (s === LAST) for (let i = 0; i < N; i++) st.grad[i] = D.nodes[i].g;
    for (const i of st.operands) st.cls[i] = "operand";
    if (st.current >= 0) st.cls[st.current] = "current";
    return st;
  }

  function textBlock(kind, lines, placeholder, top, x, fresh) {
    const unset = lines === null;
    const cls = kind + (unset ? " unset" : "") + (fresh ? " fresh" : "");
    let s = `<text class="${cls}">`;
    (unset ? [placeholder] : lines).forEach((line, k) => {
      const y = top + G.padY / 2 + k * G.line + 0.75 * G.line;
      s += `<tspan x="${x + G.padX}" y="${y.toFixed(1)}">${esc(line)}</tspan>`;
    });
    return s + "</text>";
  }

  function card(i, st) {
    const n = D.nodes[i], [x, y, w, h] = n.b;
    const cls = "node " + n.k + (st.cls[i] ? " " + st.cls[i] : "");
    let s = `<g class="${cls}" id="${n.id}"><title>${esc(n.call)}</title>`;
    s += `<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="4"/>`;
    let top = y;
    s += textBlock("title", [n.t], "", top, x, false).replace("<text ", '<text font-weight="bold" ');
    top += G.line + G.padY;
    s += `<line x1="${x}" y1="${top}" x2="${x + w}" y2="${top}" stroke="#333"/>`;
    s += textBlock("value", st.value[i], D.text.value, top, x, st.fresh[i] === "value");
    top += n.vl * G.line + G.padY;
    s += `<line x1="${x}" y1="${top}" x2="${x + w}" y2="${top}" stroke="#333"/>`;
    s += textBlock("grad", st.grad[i], D.text.grad, top, x, st.fresh[i] === "grad");
    if (st.count[i] >= 2) {
      s += `<text class="badge" x="${x + w}" y="${y - 6}" text-anchor="end">` +
        `sum of ${st.count[i]} contributions</text>`;
    }
    return s + "</g>";
  }

  // The nodes to draw: all of a small tape; of a large one, those near (cx, cy) plus the step's.
  function visible(cx, cy, st) {
    const all = [];
    if (!large) { for (let i = 0; i < N; i++) all.push(i); return all; }
    const hw = 1.5 * pane.clientWidth / zoom + 300, hh = 1.5 * pane.clientHeight / zoom + 300;
    const keep = new Set(st.operands);
    if (st.current >= 0) keep.add(st.current);
    for (let i = 0; i < N; i++) {
      const [x, y, w, h] = D.nodes[i].b;
      if (keep.has(i) || (x < cx + hw && x + w > cx - hw && y < cy + hh && y + h > cy - hh)) {
        all.push(i);
      }
    }
    return all;
  }

  function draw(cx, cy, st) {
    const nodes = visible(cx, cy, st);
    const shown = new Set(nodes), edges = new Set(), far = new Map();
    for (const i of nodes) {
      for (const k of into[i]) edges.add(k);
      for (const k of out[i]) {
        if (shown.has(D.edges[k][1])) edges.add(k); else far.set(i, (far.get(i) || 0) + 1);
      }
    }
    const active = new Set(st.operands);
    let s = "";
    for (const k of edges) {
      const [from, to, d, ex, ey] = D.edges[k];
      const on = to === st.current && active.has(from);
      const cls = `class="edge${on ? " active" : ""}" data-from="n${from}" data-to="n${to}"`;
      const arrow = `marker-end="url(#${on ? "arrow-on" : "arrow"})"`;
      if (shown.has(from) && shown.has(to)) {
        s += `<path ${cls} d="${d}" ${arrow}/>`;
      } else if (shown.has(to)) {
        // The input is far away: a stub that names it.
        s += `<path ${cls} d="M${ex - 56} ${ey}L${ex} ${ey}" ${arrow}/>` +
          `<text class="stub" x="${ex - 60}" y="${ey + 5}" text-anchor="end">${D.nodes[from].id}</text>`;
      }
    }
    // Readers too far away to draw: one stub that counts them.
    for (const [i, count] of far) {
      const [x, y, w, h] = D.nodes[i].b;
      s += `<path class="edge" d="M${x + w} ${y + h / 2}L${x + w + 56} ${y + h / 2}" marker-end="url(#arrow)"/>` +
        `<text class="stub" x="${x + w + 60}" y="${y + h / 2 + 5}">${count} more reader${count > 1 ? "s" : ""}</text>`;
    }
    for (const i of nodes) s += card(i, st);
    scene.innerHTML = s;
    const note = document.getElementById("summary");
    note.textContent = large
      ? `${D.summary} Drawn: the ${nodes.length} nodes around this step (scroll to see more).`
      : "";
  }

  function list(items) { return "<ul>" + items.map((t) => `<li>${t}</li>`).join("") + "</ul>"; }

  function explainPanel(s) {
    if (s === 0) {
      return `<h2>The recorded tape</h2><p>${N} nodes were recorded, in this order. ` +
        `Step through the <b>forward pass</b> (each value appears as it is computed), then the ` +
        `<b>backward sweep</b>: from the loss back to the parameters, each node's rule hands ` +
        `<code>upstream × local derivative</code> to its inputs.</p>` +
        `<p>Press <kbd>→</kbd> or ▶ to begin.</p>`;
    }
    if (s <= N) {
      const n = D.nodes[s - 1];
      let h = `<h2>Forward pass: node ${s} of ${N}</h2><p id="call" class="code">${esc(n.call)}</p>`;
      if (n.k === "param") return h + `<p class="explain">A parameter: its value is given, and the sweep will compute its gradient.</p><p class="code">= <span id="result">${esc(n.vt)}</span></p>`;
      if (n.k === "input") return h + `<p class="explain">An input (data or a constant): its value is given; no gradient flows into it.</p><p class="code">= <span id="result">${esc(n.vt)}</span></p>`;
      h += `<p class="code">= <span id="result">${esc(n.vt)}</span></p><p>from</p>`;
      return h + list(n.in.map((i) => `<span class="code">${D.nodes[i].id} = ${esc(D.nodes[i].vt)}</span>`));
    }
    if (s <= N + S) {
      const k = s - N - 1, st = D.steps[k], me = D.nodes[st.n].id;
      const call = D.nodes[st.n].call;
      const values = st.with.map((i) => `${D.nodes[i].id} = ${D.nodes[i].vt}`).join(", ");
      let h = `<h2>Backward sweep: rule ${k + 1} of ${S}</h2><p id="call" class="code">${esc(call)}</p>`;
      h += `<p id="upstream" class="code">dL/d${me} = ${esc(st.up)}</p>`;
      if (k === 0) h += `<p class="explain">The seed: dL/dL = 1, the gradient of the loss with respect to itself.</p>`;
      h += `<p id="with" class="explain code">with ${esc(values)}</p><ol id="terms">`;
      for (const t of st.terms) {
        const name = D.nodes[t.i].id;
        h += `<li class="term" data-input="${name}"><div class="rule code">${esc(t.rule)}</div>` +
          `<div>adds <span class="added code">${esc(t.add)}</span></div><div class="sum code">`;
        h += t.before === null
          ? `dL/d${name} = <span class="total">${esc(t.after)}</span> <span class="explain">(first contribution)</span>`
          : `<span class="fanout">fan-out:</span> dL/d${name} = ${esc(t.before)} + ${esc(t.add)} = <span class="total">${esc(t.after)}</span>`;
        h += "</div></li>";
      }
      return h + "</ol>";
    }
    const params = D.nodes.filter((n) => n.k === "param");
    const rows = params.slice(0, 60).map((n) =>
      `<tr><td>dL/d${n.id}</td><td>${esc(n.t.split(" ").pop())}</td><td>${esc(n.gt)}</td></tr>`);
    const more = params.length > 60 ? `<p>… and ${params.length - 60} more parameters.</p>` : "";
    return `<h2>Done: the gradients of the parameters</h2><p>The sweep has reached every ` +
      `parameter; an optimizer would now step each one against its gradient.</p>` +
      `<table class="grads" id="param-grads">${rows.join("")}</table>${more}`;
  }

  function setZoom(z) {
    zoom = Math.max(0.05, Math.min(4, z));
    svg.setAttribute("width", (G.width * zoom).toFixed(0));
    svg.setAttribute("height", (G.height * zoom).toFixed(0));
  }

  // Where to look at step s: the step's node and its inputs if they fit in the pane, else
  // the node alone.
  function focus(st, s) {
    const main = st.current >= 0 ? st.current : s === 0 ? 0 : D.loss;
    const box = (i) => D.nodes[i].b;
    let [x0, y0, w, h] = box(main), x1 = x0 + w, y1 = y0 + h;
    const [mx, my] = [(x0 + x1) / 2, (y0 + y1) / 2];
    for (const i of st.operands) {
      const [x, y, bw, bh] = box(i);
      x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x + bw); y1 = Math.max(y1, y + bh);
    }
    const fits = (x1 - x0) * zoom < pane.clientWidth - 40 && (y1 - y0) * zoom < pane.clientHeight - 40;
    return fits ? [(x0 + x1) / 2, (y0 + y1) / 2] : [mx, my];
  }

  function go(s, smooth) {
    s = Math.max(0, Math.min(LAST, s | 0));
    step = s;
    const st = state(s);
    now = st;
    const phase = s === 0 ? "start" : s <= N ? "forward" : s <= N + S ? "backward" : "done";
    document.body.className = phase;
    document.body.setAttribute("data-step", String(s));
    document.getElementById("phase").textContent =
      { start: "Recorded tape", forward: "Forward pass", backward: "Backward sweep", done: "Done" }[phase];
    document.getElementById("counter").textContent = `step ${s} of ${LAST}`;
    slider.value = String(s);
    panel.innerHTML = explainPanel(s);
    const [cx, cy] = focus(st, s);
    draw(cx, cy, st);
    if (!fit) {
      pane.scrollTo({
        left: cx * zoom - pane.clientWidth / 2, top: cy * zoom - pane.clientHeight / 2,
        behavior: smooth ? "smooth" : "auto",
      });
    }
    if (location.hash !== "#step=" + s) {
      try { history.replaceState(null, "", "#step=" + s); } catch (e) { /* some file: pages */ }
    }
  }

  function fromHash() {
    const m = /step=(\d+)/.exec(location.hash);
    return m ? parseInt(m[1], 10) : 0;
  }

  function toggleFit() {
    fit = !fit;
    setZoom(fit ? Math.min(pane.clientWidth / G.width, pane.clientHeight / G.height, 1) : baseZoom);
    go(step, false);
  }

  document.getElementById("first").onclick = () => go(0, true);
  document.getElementById("prev").onclick = () => go(step - 1, true);
  document.getElementById("next").onclick = () => go(step + 1, true);
  document.getElementById("last").onclick = () => go(LAST, true);
  document.getElementById("zoom-in").onclick = () => { fit = false; setZoom(zoom * 1.25); go(step, false); };
  document.getElementById("zoom-out").onclick = () => { fit = false; setZoom(zoom / 1.25); go(step, false); };
  document.getElementById("fit").onclick = toggleFit;
  slider.max = String(LAST);
  slider.oninput = () => go(parseInt(slider.value, 10), false);
  window.addEventListener("hashchange", () => { if (fromHash() !== step) go(fromHash(), false); });
  document.addEventListener("keydown", (e) => {
    if (e.target === slider || e.ctrlKey || e.metaKey || e.altKey) return;
    const keys = {
      ArrowRight: () => go(step + 1, true), ArrowDown: () => go(step + 1, true),
      " ": () => go(step + 1, true), PageDown: () => go(step + 1, true),
      ArrowLeft: () => go(step - 1, true), ArrowUp: () => go(step - 1, true),
      PageUp: () => go(step - 1, true), Home: () => go(0, true), End: () => go(LAST, true),
      "+": () => { fit = false; setZoom(zoom * 1.25); go(step, false); },
      "=": () => { fit = false; setZoom(zoom * 1.25); go(step, false); },
      "-": () => { fit = false; setZoom(zoom / 1.25); go(step, false); },
      f: toggleFit, F: toggleFit,
    };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
  });
  // A large tape draws only what is near: redraw around what the learner scrolls to.
  let queued = false;
  pane.addEventListener("scroll", () => {
    if (!large || queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      const cx = (pane.scrollLeft + pane.clientWidth / 2) / zoom;
      const cy = (pane.scrollTop + pane.clientHeight / 2) / zoom;
      draw(cx, cy, now);
    });
  });
  setZoom(zoom);
  go(fromHash(), false);
  // For the browser test: when the page was ready, counted from the start of navigation.
  const body = document.body;
  body.setAttribute("data-ready-ms", performance.now().toFixed(1));
  body.setAttribute("data-script-ms", (performance.now() - started).toFixed(1));
  body.setAttribute("data-json-ms", (parsed - started).toFixed(1));
})();

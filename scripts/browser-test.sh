#!/usr/bin/env bash
# The chain-rule page (viz::to_html) in a real browser: headless Chromium opens the generated
# pages at given steps (file://…#step=N) and the DOM it dumps must show the step of the trace —
# the highlighted node, its rule and its numbers — as Rust computed it. It also times the load of
# a 10,000-node page (under 2 s, read from performance.now() inside the page).
#
# Pages and expected steps: examples/page_fixtures.rs (a small network with fan-out, and a
# 10,000-node recurrence) and examples/05_see_the_chain_rule.rs (checked against the trace it
# prints). Self-contained: installs Chromium (Debian package `chromium`) when missing, as root.
# Exits non-zero on the first failed check. Run: bash scripts/browser-test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

need() { # command, Debian package
    command -v "$1" >/dev/null 2>&1 && return
    if [ "$(id -u)" != 0 ]; then
        echo "browser-test: $1 is missing; run as root to install $2, or install it" >&2
        exit 1
    fi
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need chromium chromium
need python3 python3

cargo build --release --quiet --example page_fixtures --example 05_see_the_chain_rule
work=target/browser-test
rm -rf "$work" && mkdir -p "$work"
./target/release/examples/page_fixtures "$work"
# The example writes out/chain-rule.html and prints its trace, the reference for its page.
./target/release/examples/05_see_the_chain_rule >"$work/05.txt"
cp out/chain-rule.html "$work/05.html"

python3 - "$work" <<'PY'
import html.parser, os, re, subprocess, sys, tempfile, time

work = os.path.abspath(sys.argv[1])
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--window-size=1280,800"]
loads = []  # (page, step, ready ms inside the page, wall seconds)
checks = 0

class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []
    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)
    def classes(self):
        return (self.attrs.get("class") or "").split()
    def walk(self):
        yield self
        for c in self.children:
            if isinstance(c, Node):
                yield from c.walk()

VOID = {"meta", "input", "br", "img", "link", "hr", "area", "base", "col", "embed", "source",
        "track", "wbr", "path", "rect", "line", "stop"}

class Tree(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.at = self.root
    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.at)
        self.at.children.append(node)
        if tag not in VOID:
            self.at = node
    def handle_startendtag(self, tag, attrs):
        self.at.children.append(Node(tag, attrs, self.at))
    def handle_endtag(self, tag):
        at = self.at
        while at is not self.root and at.tag != tag:
            at = at.parent
        if at is not self.root:
            self.at = at.parent
    def handle_data(self, data):
        self.at.children.append(data)

def fail(message):
    print(f"browser-test: FAIL: {message}", file=sys.stderr)
    sys.exit(1)

def expect(what, got, want):
    global checks
    checks += 1
    if got != want:
        fail(f"{what}:\n    got  {got!r}\n    want {want!r}")

def open_page(page, step=None):
    url = f"file://{work}/{page}" + ("" if step is None else f"#step={step}")
    with tempfile.TemporaryDirectory() as profile:
        t0 = time.monotonic()
        run = subprocess.run(["chromium", *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                             capture_output=True, timeout=120)
        wall = time.monotonic() - t0
    if run.returncode != 0:
        fail(f"chromium exited {run.returncode} on {url}: {run.stderr.decode()[-2000:]}")
    tree = Tree()
    tree.feed(run.stdout.decode("utf-8"))
    nodes = list(tree.root.walk())
    body = next((n for n in nodes if n.tag == "body"), None)
    if page == "drive.html":
        return body, nodes
    if body is None or "data-ready-ms" not in body.attrs:
        fail(f"{url}: the page's script did not finish (no data-ready-ms on <body>)")
    loads.append((page, step, float(body.attrs["data-ready-ms"]), wall))
    return body, nodes

def by_id(nodes, ident):
    found = [n for n in nodes if n.attrs.get("id") == ident]
    return found[0] if found else None

def text_of(nodes, ident):
    node = by_id(nodes, ident)
    return None if node is None else node.text().strip()

def check_step(page, row):
    step, phase, node = int(row[0]), row[1], row[2]
    body, nodes = open_page(page, step)
    where = f"{page}#step={step}"
    expect(f"{where}: step shown", body.attrs.get("data-step"), str(step))
    expect(f"{where}: phase", body.attrs.get("class"), phase)
    current = [n.attrs.get("id") for n in nodes if n.tag == "g" and "current" in n.classes()]
    expect(f"{where}: highlighted node", current, [node])
    expect(f"{where}: call", text_of(nodes, "call"), row[3])
    if phase == "forward":
        expect(f"{where}: value", text_of(nodes, "result"), row[4])
        return nodes
    expect(f"{where}: upstream", text_of(nodes, "upstream"), f"dL/d{node} = {row[4]}")
    terms = [n for n in nodes if "term" in n.classes()]
    inner = lambda term, cls: [n.text().strip() for n in term.walk() if cls in n.classes()]
    expect(f"{where}: rules", [inner(t, "rule")[0] for t in terms], row[5].split(" ‖ "))
    expect(f"{where}: added", [inner(t, "added")[0] for t in terms], row[6].split(" ‖ "))
    # Inputs at their second (or later) contribution: the panel adds them up, the card says so.
    fan_out = dict(item.split(":") for item in row[7].split(",") if item) if len(row) > 7 else {}
    for term in terms:
        name = term.attrs.get("data-input")
        expect(f"{where}: fan-out shown for {name}", bool(inner(term, "fanout")), name in fan_out)
        if name in fan_out:
            card = by_id(nodes, name)
            badges = [n.text() for n in card.walk() if "badge" in n.classes()]
            expect(f"{where}: {name}'s card", badges, [f"sum of {fan_out[name]} contributions"])
    return nodes

def rows(name):
    with open(os.path.join(work, name), encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t") for line in f if line.strip()]

# 1. The small network: every forward and backward step.
small = rows("small-steps.tsv")
for row in small:
    check_step("small.html", row)
n_small = sum(1 for r in small if r[1] == "forward")
last_small = len(small) + 1
body, nodes = open_page("small.html")
expect("small.html with no step: starts at step 0", body.attrs.get("data-step"), "0")
body, nodes = open_page("small.html", 10_000)
expect("small.html#step=10000: the last step", body.attrs.get("data-step"), str(last_small))
grads = by_id(nodes, "param-grads")
expect("small.html, last step: a row per parameter", grads is not None and
       len([n for n in grads.walk() if n.tag == "tr"]), 4)
with open(os.path.join(work, "small.html"), encoding="utf-8") as f:
    page = f.read()
for banned in ("http://", "https://", "//cdn"):
    expect(f"small.html contains no {banned}", banned in page, False)

# 1b. Buttons, arrow keys and the address, driven from a page that holds small.html in a frame
# (file pages may script each other with --allow-file-access-from-files). Each action's
# resulting step and address are written into the outer page, which Chromium then dumps.
with open(os.path.join(work, "drive.html"), "w", encoding="utf-8") as f:
    f.write("""<!DOCTYPE html><html><body><pre id="log"></pre>
<iframe id="page" src="small.html#step=3" width="1280" height="800"></iframe>
<script>
document.getElementById("page").onload = function () {
  const w = this.contentWindow, d = w.document, log = [];
  const key = (k) => d.dispatchEvent(new w.KeyboardEvent("keydown", { key: k, bubbles: true }));
  const note = (what) => log.push(what + " " + d.body.getAttribute("data-step") + " " + w.location.hash);
  note("loaded");
  key("ArrowRight"); note("right");
  key("ArrowRight"); key("ArrowLeft"); note("right-left");
  d.getElementById("next").click(); note("next");
  d.getElementById("prev").click(); d.getElementById("prev").click(); note("prev-prev");
  key("End"); note("end");
  key("ArrowRight"); note("past-end");
  d.getElementById("first").click(); note("first");
  key("ArrowLeft"); note("before-start");
  d.getElementById("last").click(); note("last");
  key("Home"); note("home");
  document.getElementById("log").textContent = log.join("\\n");
};
</script></body></html>""")
FLAGS.append("--allow-file-access-from-files")
body, nodes = open_page("drive.html")
FLAGS.pop()
got = text_of(nodes, "log").split("\n")
want = [f"{what} {step} #step={step}" for what, step in [
    ("loaded", 3), ("right", 4), ("right-left", 4), ("next", 5), ("prev-prev", 3),
    ("end", last_small), ("past-end", last_small), ("first", 0), ("before-start", 0),
    ("last", last_small), ("home", 0)]]
expect("small.html driven by keys and buttons", got, want)

# 2. The example's page against the trace it prints.
with open(os.path.join(work, "05.txt"), encoding="utf-8") as f:
    printed = f.read()
n05 = int(re.search(r"\((\d+) nodes\)", printed).group(1))
sweep = printed.split("node by node")[1].split("The tape against")[0]
trace = []  # [call, node, upstream, with, [rules], [added]]
for line in sweep.splitlines():
    head = re.match(r"^(n\d+ = \S.*?)    dL/d(n\d+) = (.*)$", line)
    if head:
        trace.append([head.group(1), head.group(2), head.group(3), None, [], []])
    elif line.startswith("    with "):
        trace[-1][3] = line[4:]
    elif line.startswith("    dL/d"):
        rule, added = line[4:].rsplit("  adds ", 1)
        trace[-1][4].append(rule)
        trace[-1][5].append(added)
if not trace:
    fail("could not read the trace printed by 05_see_the_chain_rule")
for k in sorted({0, len(trace) // 2, len(trace) - 1}):
    call, node, up, with_, rules_, added = trace[k]
    row = [str(n05 + k + 1), "backward", node, call, up, " ‖ ".join(rules_), " ‖ ".join(added)]
    nodes = check_step("05.html", row)
    expect(f"05.html#step={n05 + k + 1}: values used", text_of(nodes, "with"), with_)

# 3. The 10,000-node page: steps spread over both passes, and its load time.
large = rows("large-steps.tsv")
for row in large:
    check_step("large.html", row)
large_loads = sorted(ms for page, _, ms, _ in loads if page == "large.html")
if max(large_loads) >= 2000:
    fail(f"large.html took {max(large_loads):.0f} ms to be ready (limit 2000 ms)")
with open(os.path.join(work, "large.html"), encoding="utf-8") as f:
    size = len(f.read().encode("utf-8"))
print(f"browser-test: {checks} checks passed over {len(loads)} page loads")
print(f"browser-test: large.html ({size / 1e6:.1f} MB, 10,000 nodes) ready in "
      f"{large_loads[len(large_loads) // 2]:.0f} ms (median of {len(large_loads)}), "
      f"at most {large_loads[-1]:.0f} ms")
PY
echo "browser-test: passed in $(($(date +%s) - started)) s"

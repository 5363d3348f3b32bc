//! The layers of `docs/architecture.md` hold in the code: no module uses a layer above its own.
//!
//! The layers are read from the doc's table under "The pieces (from the ground up)": one row per
//! layer, ground first, its modules listed in the second column. Every `src/**/*.rs` but `lib.rs`
//! (re-exports) and the binaries (`main.rs`, `bin/`) is scanned, comments and string literals
//! blanked out, for the paths that can reach another top-level module: `crate::x` (in `use`
//! lines, `pub use`, groups `crate::{x, y::z}` and paths in code), `$crate::x` in macros, and
//! `super::` chains that climb out of the file's top-level module. `crate::Name` for a name that
//! `lib.rs` re-exports counts as the module it comes from. A module in no row of the table fails
//! too, so a new module has to be placed before it can be used.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The heading of the doc's section whose first table lists the layers.
const SECTION: &str = "## The pieces (from the ground up)";

/// One row of the table: a layer and the top-level modules in it.
#[derive(Debug)]
struct Layer {
    /// 1 for the ground, counting up.
    rank: usize,
    name: String,
    modules: Vec<String>,
}

/// A `src/` file, as a path relative to `src/` and its text.
struct Source {
    path: String,
    text: String,
}

#[test]
fn every_module_is_in_exactly_one_layer_of_the_architecture_doc() {
    let layers = layers_of_doc();
    let sources = sources();
    let declared = declared_modules(&lib_rs(&sources));
    let problems = placement_problems(&layers, &sources, &declared);
    assert!(
        problems.is_empty(),
        "docs/architecture.md and src/ disagree:\n{}",
        problems.join("\n")
    );
}

#[test]
fn no_module_uses_a_module_of_a_layer_above_its_own() {
    let layers = layers_of_doc();
    let sources = sources();
    let found = upward_uses(&layers, &sources, &lib_rs(&sources));
    assert!(
        found.is_empty(),
        "modules use layers above their own (the layers are the table under \"{SECTION}\" in \
         docs/architecture.md):\n{}",
        found.join("\n")
    );
}

/// The check itself, on made-up files: it must see every kind of path it claims to, and none
/// in comments or strings.
#[test]
fn the_scan_finds_upward_paths_of_every_kind_and_ignores_comments_and_strings() {
    let doc = "## The pieces (from the ground up)\n\n\
               | layer | modules | what | uses |\n|---|---|---|---|\n\
               | ground | `low` | x | nothing |\n| top | `high`, `mid` | y | `low` |\n";
    let layers = parse_layers(doc).unwrap();
    assert_eq!(layers[1].modules, ["high", "mid"]);
    let lib = "mod high;\npub mod low;\nmod mid;\npub use high::{Top, Other};\n";
    let file = |path: &str, text: &str| Source {
        path: path.into(),
        text: text.into(),
    };
    let sources = [
        file("lib.rs", lib),
        file(
            "high.rs",
            "use crate::low::X;\nfn f() { crate::mid::g() }\n",
        ),
        file(
            "low/mod.rs",
            "// use crate::high::A; in a comment\n\
             /* crate::high:: in a block comment */\n\
             const S: &str = \"crate::high::B\";\n\
             const C: char = '\"'; fn h<'a>(x: &'a u8) {}\n\
             use crate::{\n    low::Y,\n    mid::Z,\n};\n\
             pub(crate) fn k() -> crate::Top { $crate::high::f() }\n\
             mod inner {\n    use super::super::mid;\n    use super::X;\n}\n",
        ),
        file("low/deep.rs", "use super::super::high;\nuse super::Q;\n"),
        file("mid.rs", "use super::high::H;\n"),
    ];
    let found = upward_uses(&layers, &sources, lib);
    let lines: Vec<&str> = found
        .iter()
        .map(|f| f.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            "src/low/mod.rs:7",  // crate::{ …, mid::Z }
            "src/low/mod.rs:9",  // crate::Top (re-exported from high)
            "src/low/mod.rs:9",  // $crate::high
            "src/low/mod.rs:11", // super::super:: from an inline module of low/mod.rs
            "src/low/deep.rs:1", // super::super:: from low/deep.rs
        ],
        "{found:#?}"
    );
    assert!(found[0].contains("`low` (layer 1, ground) uses `mid` (layer 2, top)"));
    // Same-layer and downward uses pass; a module in no layer is named.
    let declared = declared_modules(&format!("{lib}mod stray;\n"));
    let problems = placement_problems(&layers, &sources, &declared);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].contains("`stray`"), "{problems:#?}");
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn layers_of_doc() -> Vec<Layer> {
    let path = root().join("docs/architecture.md");
    let doc = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_layers(&doc).unwrap_or_else(|e| panic!("docs/architecture.md: {e}"))
}

/// The layers of the first table after [`SECTION`]: a header row whose second column is
/// `modules`, a separator, then one row per layer with its modules as `name`, comma-separated.
fn parse_layers(doc: &str) -> Result<Vec<Layer>, String> {
    let start = doc
        .find(SECTION)
        .ok_or(format!("no section \"{SECTION}\""))?;
    let rows: Vec<Vec<&str>> = doc[start..]
        .lines()
        .skip_while(|l| !l.trim_start().starts_with('|'))
        .take_while(|l| l.trim_start().starts_with('|'))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect()
        })
        .collect();
    if rows.len() < 3 || rows[0].get(1) != Some(&"modules") {
        return Err(format!(
            "the table under \"{SECTION}\" needs a header with `modules` as its second column, \
             and at least one layer"
        ));
    }
    let mut layers = Vec::new();
    for (rank, row) in rows[2..].iter().enumerate() {
        let (name, cell) = (row[0], row.get(1).copied().unwrap_or(""));
        let mut modules = Vec::new();
        for item in cell.split(',') {
            let module = item
                .trim()
                .strip_prefix('`')
                .and_then(|m| m.strip_suffix('`'));
            match module {
                Some(m) if is_identifier(m) => modules.push(m.to_string()),
                _ => {
                    return Err(format!(
                        "layer \"{name}\": the modules column must list modules as `name`, \
                         comma-separated; found {item:?}"
                    ))
                }
            }
        }
        layers.push(Layer {
            rank: rank + 1,
            name: name.to_string(),
            modules,
        });
    }
    Ok(layers)
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Every `.rs` file under `src/`, sorted.
fn sources() -> Vec<Source> {
    let src = root().join("src");
    let mut paths = Vec::new();
    collect(&src, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| Source {
            path: p
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/"),
            text: fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())),
        })
        .collect()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn lib_rs(sources: &[Source]) -> String {
    let lib = sources.iter().find(|s| s.path == "lib.rs");
    lib.expect("src/lib.rs").text.clone()
}

/// The top-level module a file belongs to, or `None` for the exempt ones: `lib.rs`, the binaries.
fn module_of(path: &str) -> Option<&str> {
    if matches!(path, "lib.rs" | "main.rs") || path.starts_with("bin/") {
        return None;
    }
    Some(path.split('/').next()?.trim_end_matches(".rs"))
}

/// How many `super::` reach the crate root from the top of this file: 1 for `a.rs` and
/// `a/mod.rs`, 2 for `a/b.rs` and `a/b/mod.rs`, and so on.
fn file_depth(path: &str) -> usize {
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() - usize::from(parts.last() == Some(&"mod.rs"))
}

/// The modules `lib.rs` declares (`mod x;`, `pub mod x;`, `pub(crate) mod x;`).
fn declared_modules(lib: &str) -> Vec<String> {
    let code = blank_comments_and_strings(lib);
    let words: Vec<&str> = code.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| w[0] == "mod" && w[1].ends_with(';'))
        .map(|w| w[1].trim_end_matches(';').to_string())
        .collect()
}

/// The names `lib.rs` re-exports at the crate root (`pub use x::{A, B};`, `pub use x::A;`),
/// each with the module it comes from.
fn reexports(lib: &str) -> BTreeMap<String, String> {
    let code = blank_comments_and_strings(lib);
    let mut names = BTreeMap::new();
    for statement in code.split(';') {
        let Some(path) = statement.trim().strip_prefix("pub use ") else {
            continue;
        };
        let path = path.trim().trim_start_matches("crate::");
        let Some((module, rest)) = path.split_once("::") else {
            continue;
        };
        let rest = rest.trim().trim_start_matches('{').trim_end_matches('}');
        for name in rest.split(',') {
            let name = name.split(" as ").last().unwrap().trim();
            if is_identifier(name) {
                names.insert(name.to_string(), module.trim().to_string());
            }
        }
    }
    names
}

/// Modules in no layer, modules the table lists that `src/` lacks, and modules in two layers.
fn placement_problems(layers: &[Layer], sources: &[Source], declared: &[String]) -> Vec<String> {
    let mut in_src: BTreeMap<&str, &str> = BTreeMap::new();
    for s in sources {
        if let Some(m) = module_of(&s.path) {
            in_src.entry(m).or_insert(&s.path);
        }
    }
    let mut problems = Vec::new();
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for layer in layers {
        for m in &layer.modules {
            if let Some(other) = seen.insert(m, &layer.name) {
                problems.push(format!(
                    "`{m}` is in two layers: \"{other}\" and \"{}\"",
                    layer.name
                ));
            }
            if !in_src.contains_key(m.as_str()) && !declared.contains(m) {
                problems.push(format!(
                    "layer \"{}\" lists `{m}`, which is no module of src/",
                    layer.name
                ));
            }
        }
    }
    let all = in_src
        .iter()
        .map(|(m, path)| (m.to_string(), format!("src/{path}")))
        .chain(declared.iter().map(|m| (m.clone(), "src/lib.rs".into())));
    let mut reported = Vec::new();
    for (m, path) in all {
        if !seen.contains_key(m.as_str()) && !reported.contains(&m) {
            problems.push(format!(
                "module `{m}` ({path}) is in no layer: add it to the row of its layer in the \
                 table under \"{SECTION}\" in docs/architecture.md"
            ));
            reported.push(m);
        }
    }
    problems
}

/// Every use of a module from a layer above the using file's, as `src/file:line: message`.
fn upward_uses(layers: &[Layer], sources: &[Source], lib: &str) -> Vec<String> {
    let layer_of = |m: &str| layers.iter().find(|l| l.modules.iter().any(|x| x == m));
    let declared = declared_modules(lib);
    let reexported = reexports(lib);
    let mut found = Vec::new();
    for source in sources {
        let Some(module) = module_of(&source.path) else {
            continue;
        };
        let Some(own) = layer_of(module) else {
            continue; // reported by the placement test
        };
        for (line, name) in crate_paths(&source.path, &source.text) {
            let target = if declared.contains(&name) {
                name
            } else if let Some(m) = reexported.get(&name) {
                m.clone()
            } else {
                continue; // a macro or an item of lib.rs itself
            };
            if let Some(theirs) = layer_of(&target).filter(|l| l.rank > own.rank) {
                found.push(format!(
                    "src/{}:{line}: `{module}` (layer {}, {}) uses `{target}` (layer {}, {})",
                    source.path, own.rank, own.name, theirs.rank, theirs.name
                ));
            }
        }
    }
    found
}

/// The first segment after the crate root of every path in `text` that starts there, with its
/// line: `crate::x…`, `$crate::x…`, each item of `crate::{x…, y…}`, and `super::` chains long
/// enough to climb out of the file's top-level module (counting inline `mod m { … }` blocks).
fn crate_paths(path: &str, text: &str) -> Vec<(usize, String)> {
    let code: Vec<char> = blank_comments_and_strings(text).chars().collect();
    let depth = file_depth(path);
    let mut found = Vec::new();
    let (mut line, mut braces) = (1, 0usize);
    // The brace depth inside each enclosing inline module.
    let mut inline_mods: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let c = code[i];
        if c == '\n' {
            line += 1;
        } else if c == '{' {
            braces += 1;
        } else if c == '}' {
            if inline_mods.last() == Some(&braces) {
                inline_mods.pop();
            }
            braces = braces.saturating_sub(1);
        }
        if !(c.is_ascii_alphabetic() || c == '_') || (i > 0 && is_ident_char(code[i - 1])) {
            i += 1;
            continue;
        }
        let word = ident_at(&code, i);
        let after = i + word.chars().count();
        if word == "mod" && inline_module_at(&code, after) {
            inline_mods.push(braces + 1);
        } else if word == "crate" && path_separator_at(&code, after) {
            found.extend(segments_at(&code, after + 2, line));
        } else if word == "super" {
            let (mut supers, mut at) = (0, i);
            while ident_at(&code, at) == "super" && path_separator_at(&code, at + 5) {
                supers += 1;
                at += 7;
            }
            if supers == depth + inline_mods.len() {
                found.extend(segments_at(&code, at, line));
            }
            i = at.max(i + 1);
            continue;
        }
        i = after;
    }
    found
}

/// After `crate::` (at `at`): the one segment there, or each first segment of a `{…}` group.
fn segments_at(code: &[char], at: usize, line: usize) -> Vec<(usize, String)> {
    let mut at = at;
    while code.get(at).is_some_and(|c| c.is_whitespace()) {
        at += 1;
    }
    if code.get(at) != Some(&'{') {
        let word = ident_at(code, at);
        return if word.is_empty() {
            Vec::new()
        } else {
            vec![(line, word)]
        };
    }
    // A group: the first identifier after `{` and after each comma at its top level.
    let (mut found, mut depth, mut line, mut expect) = (Vec::new(), 0, line, true);
    for (k, &c) in code.iter().enumerate().skip(at) {
        match c {
            '{' => {
                depth += 1;
                expect = depth == 1;
                continue;
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => {
                expect = true;
                continue;
            }
            '\n' => line += 1,
            _ => {}
        }
        if expect && (c.is_ascii_alphabetic() || c == '_') {
            found.push((line, ident_at(code, k)));
            expect = false;
        }
    }
    found
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn ident_at(code: &[char], at: usize) -> String {
    code[at.min(code.len())..]
        .iter()
        .take_while(|c| is_ident_char(**c))
        .collect()
}

fn path_separator_at(code: &[char], at: usize) -> bool {
    code.get(at) == Some(&':') && code.get(at + 1) == Some(&':')
}

/// Whether ` name {` follows `at` (just after the word `mod`): an inline module, not a file's.
fn inline_module_at(code: &[char], at: usize) -> bool {
    let skip_space = |mut k: usize| {
        while code.get(k).is_some_and(|c| c.is_whitespace()) {
            k += 1;
        }
        k
    };
    let name = skip_space(at);
    let len = ident_at(code, name).len();
    len > 0 && code.get(skip_space(name + len)) == Some(&'{')
}

/// `text` with every comment and the inside of every string and char literal turned into
/// spaces (newlines kept, so line numbers stay): what is left is code.
fn blank_comments_and_strings(text: &str) -> String {
    let s: Vec<char> = text.chars().collect();
    let mut out = s.clone();
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for c in &mut out[from..to.min(s.len())] {
            if *c != '\n' {
                *c = ' ';
            }
        }
    };
    let mut i = 0;
    while i < s.len() {
        let next = s.get(i + 1).copied();
        let prev_ident = i > 0 && is_ident_char(s[i - 1]);
        // A byte literal's `b` (b'x', b"…", br"…") does not make what follows an identifier.
        let byte_prefix = i > 0 && s[i - 1] == 'b' && (i < 2 || !is_ident_char(s[i - 2]));
        if s[i] == '/' && next == Some('/') {
            let end = s[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(s.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if s[i] == '/' && next == Some('*') {
            let (mut k, mut depth) = (i + 2, 1);
            while k < s.len() && depth > 0 {
                if s[k] == '/' && s.get(k + 1) == Some(&'*') {
                    depth += 1;
                    k += 1;
                } else if s[k] == '*' && s.get(k + 1) == Some(&'/') {
                    depth -= 1;
                    k += 1;
                }
                k += 1;
            }
            blank(&mut out, i, k);
            i = k;
        } else if s[i] == 'r' && (!prev_ident || byte_prefix) && matches!(next, Some('"' | '#')) {
            // A raw string r"…" or r#"…"# (also br…, whose `b` is left as code).
            let hashes = s[i + 1..].iter().take_while(|&&c| c == '#').count();
            if s.get(i + 1 + hashes) != Some(&'"') {
                i += 1;
                continue;
            }
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let body = i + 2 + hashes;
            let end = (body..s.len())
                .find(|&k| s[k..].starts_with(&close))
                .map_or(s.len(), |k| k + close.len());
            blank(&mut out, body, end.saturating_sub(close.len()));
            i = end;
        } else if s[i] == '"' {
            let mut k = i + 1;
            while k < s.len() && s[k] != '"' {
                k += if s[k] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, k);
            i = k + 1;
        } else if s[i] == '\'' && (!prev_ident || byte_prefix) {
            // A char literal ('x', '\n', '\''), or else a lifetime or label, left alone.
            let end = if next == Some('\\') {
                (i + 3..s.len()).find(|&k| s[k] == '\'')
            } else {
                (s.get(i + 2) == Some(&'\'')).then_some(i + 2)
            };
            match end {
                Some(end) => {
                    blank(&mut out, i + 1, end);
                    i = end + 1;
                }
                None => i += 1,
            }
        } else {
            i += 1;
        }
    }
    out.into_iter().collect()
}

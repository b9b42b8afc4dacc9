//! `cargo xtask tidy`: the architecture rules a review would otherwise have to catch, after
//! rust-analyzer's `xtask/src/tidy.rs`.
//!
//! - The collector's top-level modules form layers ([`LAYERS`], the code map in README.md):
//!   a module imports only modules of a lower layer, so `receipt`, `log` and `store` never
//!   reach `web` or `cli`, and no two top-level modules import each other.
//! - No import cycle between top-level modules, nor between the modules one level below
//!   (`web::app` mounts the handlers of `web::routes`; a handler never imports `web::app`).
//! - Every `.rs` file of the workspace opens with a `//!` header saying what it is for.
//! - No non-test `.rs` file is longer than [`MAX_LINES`] lines.
//! - A storage backend's client crate is named only in its folder ([`CONFINED`]): everything
//!   else reaches the data through the storage interface of `store`.
//!
//! Imports are read from the text (`crate::a::b`, `use crate::{a, b::c}`, `super::x`), not
//! from a compiler: comments are skipped, and code under `#[cfg(test)]` is not counted (test
//! fixtures may use any layer).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Longest non-test source file, in lines (an inline test module at its end not counted):
/// beyond it a file holds several jobs.
pub const MAX_LINES: usize = 600;

/// The collector's layers, lowest first: a top-level module may import the modules of the
/// layers before its own, never its own layer's others or a later one's.
pub const LAYERS: &[&[&str]] = &[
    // Helpers without a domain: hex and SHA-256, timestamps.
    &["hash", "clock"],
    // Process plumbing: the data directory, the metrics registry.
    &["ops"],
    // The validated site configuration; the signing key files (JWS itself: kelisim-receipt).
    &["config", "keys"],
    // The receipt: wire request, validation, signed payload, subject commitments.
    &["receipt"],
    // The hash chain: kelisim-receipt's rule and audit walk, as the collector uses them.
    &["log"],
    // The storage interface, and SQLite behind it (`store/sqlite/`).
    &["store"],
    // Admin tasks without HTTP: tokens, retention, export, Kantara. Witnessing: cosigning
    // other logs' checkpoints, and asking witnesses to cosign ours.
    &["admin", "witness"],
    // HTTP: state, app, routes, pages, middleware.
    &["web"],
    // The command line: parses, then calls everything above.
    &["cli"],
];

/// Crates that only one folder of `collector/src` may name, with that folder: a backend's
/// client stays behind the storage interface, so a second backend is a new folder beside it
/// rather than edits across the layers.
pub const CONFINED: &[(&str, &str)] = &[("rusqlite", "store/sqlite/")];

/// Files allowed over [`MAX_LINES`], each with the reason.
const LONG_FILES: &[(&str, &str)] = &[
    // FIXME(issue 14, widget half): the widget's files are split by the work that moves its
    // pure code into `kelisim-widget-core`; the collector's side does not edit widget/.
    (
        "widget/src/guard.rs",
        "split by the widget half of issue 14",
    ),
    (
        "widget/src/banner.rs",
        "split by the widget half of issue 14",
    ),
    ("widget/src/redact.rs", "moves to kelisim-widget-core"),
    // FIXME: the package test (issue 17) holds the .deb's and the image's checks in one file;
    // split it by package kind.
    (
        "xtask/src/package/check.rs",
        "the package test, to be split by package kind",
    ),
];

/// Runs every check on the workspace; the error lists every problem found.
pub fn tidy() -> Result<()> {
    let root = crate::root();
    let mut problems = Vec::new();
    let files = rust_files(root)?;
    for path in &files {
        let text =
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let rel = path.strip_prefix(root).unwrap_or(path);
        let rel = rel.to_string_lossy().replace('\\', "/");
        problems.extend(check_file(&rel, &text));
    }
    let src = root.join("collector/src");
    let mut sources = Vec::new();
    for path in files.iter().filter(|p| p.starts_with(&src)) {
        let rel = path.strip_prefix(&src).unwrap_or(path);
        let text = fs::read_to_string(path)?;
        sources.push((rel.to_string_lossy().replace('\\', "/"), text));
    }
    problems.extend(check_imports(&sources, LAYERS));
    problems.extend(check_confined(&sources, CONFINED));
    if problems.is_empty() {
        eprintln!("xtask tidy: {} files, no problem", files.len());
        Ok(())
    } else {
        let mut msg = String::new();
        for p in &problems {
            let _ = writeln!(msg, "  {p}");
        }
        bail!("tidy found {} problem(s):\n{msg}", problems.len())
    }
}

/// Every `.rs` file of the workspace, outside build output and installed tools.
fn rust_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if entry.file_type()?.is_dir() {
                let skip = name.starts_with('.')
                    || matches!(&*name, "target" | "node_modules" | "dist" | "data");
                if !skip {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Is `rel` (relative to the workspace root) test code: a `tests/` or `benches/` tree, a
/// `tests.rs` module, or a fuzz target?
fn is_test_file(rel: &str) -> bool {
    rel.split('/')
        .any(|c| matches!(c, "tests" | "benches" | "fuzz"))
        || rel.ends_with("/tests.rs")
}

/// The header and length rules for one file.
fn check_file(rel: &str, text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if !first.starts_with("//!") {
        problems.push(format!(
            "{rel}: no `//!` header; open the file with a line saying what it is for"
        ));
    }
    // An inline test module at the end is test code: only what comes before it counts.
    let lines = code_lines(text);
    if lines > MAX_LINES && !is_test_file(rel) && !LONG_FILES.iter().any(|(f, _)| *f == rel) {
        problems.push(format!(
            "{rel}: {lines} lines (at most {MAX_LINES} outside tests); split it along its jobs"
        ));
    }
    problems
}

/// Lines of `text` before its inline `#[cfg(test)] mod … {`, if any.
fn code_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .windows(2)
        .position(|w| {
            let next = w[1].trim();
            w[0].trim_start().starts_with("#[cfg(test)]")
                && next.contains("mod ")
                && next.ends_with('{')
        })
        .unwrap_or(lines.len())
}

/// A module path (`["web", "routes", "admin"]`) of a file under `src/` (`web/routes/admin.rs`).
fn module_of(rel: &str) -> Vec<String> {
    let rel = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut parts: Vec<String> = rel.split('/').map(str::to_owned).collect();
    if parts.last().is_some_and(|l| l == "mod") || parts == ["lib"] || parts == ["main"] {
        parts.pop();
    }
    parts
}

/// The text of `text` that counts for imports: comments dropped, and everything from an
/// inline `#[cfg(test)] mod … {` on (a file's test module comes last, by this project's habit).
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        let test_module = lines.peek().is_some_and(|next| {
            let next = next.trim();
            next.contains("mod ") && next.ends_with('{')
        });
        if trimmed.starts_with("#[cfg(test)]") && test_module {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The module paths a file of module `module` imports: `crate::a::b…`, the items of
/// `crate::{a, b::c}`, and `super::…` resolved against `module`.
fn imports(module: &[String], text: &str) -> BTreeSet<Vec<String>> {
    let code = code_of(text);
    let mut out = BTreeSet::new();
    for (start, _) in code.match_indices("crate::") {
        // `kelisim_crate::` or `foo_crate::` are other names.
        let before = code[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        for path in paths_at(&code[start + "crate::".len()..]) {
            out.insert(path);
        }
    }
    for (start, _) in code.match_indices("super::") {
        let before = code[..start].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        // `module` is the file's own module (`a/b.rs` and `a/b/mod.rs` are both `a::b`), so
        // `super` is its parent either way.
        let Some((_, mut parent)) = module.split_last() else {
            continue;
        };
        let mut rest = &code[start + "super::".len()..];
        while let Some(next) = rest.strip_prefix("super::") {
            let Some((_, up)) = parent.split_last() else {
                break;
            };
            parent = up;
            rest = next;
        }
        for path in paths_at(rest) {
            let mut full = parent.to_vec();
            full.extend(path);
            out.insert(full);
        }
    }
    out
}

/// The paths written at the start of `rest` (just after `crate::`): `a::b::C` gives
/// `[a, b, C]`; `{a, b::c}` gives `[a]` and `[b, c]`.
fn paths_at(rest: &str) -> Vec<Vec<String>> {
    let rest = rest.trim_start();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut depth = 0usize;
        let mut end = inner.len();
        for (i, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    end = i;
                    break;
                }
                '}' => depth -= 1,
                _ => {}
            }
        }
        let mut out = Vec::new();
        let mut depth = 0usize;
        let mut item_start = 0;
        let inner = &inner[..end];
        for (i, c) in inner
            .char_indices()
            .chain(std::iter::once((inner.len(), ',')))
        {
            match c {
                '{' => depth += 1,
                '}' => depth = depth.saturating_sub(1),
                ',' if depth == 0 => {
                    out.extend(paths_at(&inner[item_start..i]));
                    item_start = i + 1;
                }
                _ => {}
            }
        }
        return out;
    }
    let mut path = Vec::new();
    let mut rest = rest;
    loop {
        let len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if len == 0 {
            break;
        }
        path.push(rest[..len].to_owned());
        rest = &rest[len..];
        match rest.strip_prefix("::") {
            Some(next) if next.starts_with('{') => {
                return paths_at(next)
                    .into_iter()
                    .map(|tail| path.iter().cloned().chain(tail).collect())
                    .collect();
            }
            Some(next) => rest = next,
            None => break,
        }
    }
    if path.is_empty() || path == ["self"] {
        Vec::new()
    } else {
        vec![path]
    }
}

/// Files of `sources` (path under `src/`, text) outside their folder that name a crate of
/// `confined` in code (comments and test modules aside).
fn check_confined(sources: &[(String, String)], confined: &[(&str, &str)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (rel, text) in sources {
        let code = code_of(text);
        for (krate, folder) in confined {
            let named = code.match_indices(&format!("{krate}::")).any(|(at, _)| {
                !code[..at]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            });
            if named && !rel.starts_with(folder) {
                problems.push(format!(
                    "collector/src/{rel}: names `{krate}`, which only collector/src/{folder} \
                     may use; go through the storage interface (`store::Store`, `store::Reader`)"
                ));
            }
        }
    }
    problems
}

/// The edges between modules `depth` components deep, with a file that makes each one.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

/// Builds the import graphs of `sources` (path under `src/`, text) and checks them against
/// `layers`: unknown top-level modules, imports against the layering, cycles at the top
/// level and one level below.
fn check_imports(sources: &[(String, String)], layers: &[&[&str]]) -> Vec<String> {
    let rank: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, layer)| layer.iter().map(move |m| (*m, i)))
        .collect();
    let mut problems = Vec::new();
    let mut graphs: [Graph; 2] = [Graph::new(), Graph::new()];
    for (rel, text) in sources {
        let module = module_of(rel);
        let Some(top) = module.first() else {
            continue; // lib.rs and main.rs only declare and wire.
        };
        if !rank.contains_key(top.as_str()) {
            problems.push(format!(
                "collector/src/{rel}: top-level module `{top}` is in no layer; add it to \
                 LAYERS in xtask/src/tidy.rs and to README's code map"
            ));
            continue;
        }
        for target in imports(&module, text) {
            let Some(to_top) = target.first() else {
                continue;
            };
            if to_top != top {
                match rank.get(to_top.as_str()) {
                    Some(&r) if r < rank[top.as_str()] => {}
                    Some(_) => problems.push(format!(
                        "collector/src/{rel}: `{top}` imports `crate::{}`, against the \
                         layering (a module imports only lower layers: {})",
                        target.join("::"),
                        layers
                            .iter()
                            .map(|l| l.join(" "))
                            .collect::<Vec<_>>()
                            .join(" < ")
                    )),
                    // Not a module of ours (e.g. a macro or an item of lib.rs).
                    None => continue,
                }
            }
            for (depth, graph) in graphs.iter_mut().enumerate() {
                let from = node(&module, depth + 1);
                let to = node(&target, depth + 1);
                if from != to && (depth == 0 || module.first() == target.first()) {
                    graph
                        .entry(from)
                        .or_default()
                        .entry(to)
                        .or_insert_with(|| rel.clone());
                }
            }
        }
    }
    for graph in &graphs {
        for cycle in cycles(graph) {
            let mut text = cycle.join(" -> ");
            let _ = write!(text, " -> {}", cycle[0]);
            let witness: Vec<String> = cycle
                .iter()
                .zip(cycle.iter().cycle().skip(1))
                .map(|(a, b)| graph[a][b].clone())
                .collect();
            problems.push(format!(
                "import cycle {text} (through {})",
                witness.join(", ")
            ));
        }
    }
    problems
}

/// The first `depth` components of `path`, joined with `::`.
fn node(path: &[String], depth: usize) -> String {
    path.iter()
        .take(depth)
        .cloned()
        .collect::<Vec<_>>()
        .join("::")
}

/// Cycles of `graph`, each once: for every node not yet on a reported cycle, the shortest
/// path back to itself (breadth-first), starting at that node.
fn cycles(graph: &Graph) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let mut seen_in_cycle: BTreeSet<String> = BTreeSet::new();
    for start in graph.keys() {
        if seen_in_cycle.contains(start) {
            continue;
        }
        // Shortest path back to `start` by breadth-first search.
        let mut back: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.as_str()]);
        let mut closed = None;
        while let Some(at) = queue.pop_front() {
            for next in graph.get(at).into_iter().flat_map(|e| e.keys()) {
                if next == start {
                    closed = Some(at);
                    break;
                }
                if !back.contains_key(next.as_str()) {
                    back.insert(next, at);
                    queue.push_back(next);
                }
            }
            if closed.is_some() {
                break;
            }
        }
        if let Some(mut at) = closed {
            let mut path = vec![at.to_owned()];
            while at != start {
                at = back[at];
                path.push(at.to_owned());
            }
            path.reverse();
            seen_in_cycle.extend(path.iter().cloned());
            found.push(path);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAYERS: &[&[&str]] = &[&["hash"], &["receipt"], &["store"], &["web"]];

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(p, t)| ((*p).to_owned(), format!("//! {p}\n{t}")))
            .collect()
    }

    #[test]
    fn a_clean_graph_passes() {
        let src = files(&[
            ("hash.rs", ""),
            ("receipt/mod.rs", "use crate::hash::sha;\npub mod payload;"),
            ("receipt/payload.rs", "use super::Thing;\nuse crate::hash;"),
            (
                "store/mod.rs",
                "use crate::{hash, receipt::{Payload, payload::X}};",
            ),
            (
                "web/app.rs",
                "use crate::web::routes::admin;\nuse crate::store;",
            ),
            ("web/routes/admin.rs", "use crate::web::state::AppState;"),
            ("web/state.rs", "use crate::store::Store;"),
        ]);
        assert_eq!(check_imports(&src, LAYERS), Vec::<String>::new());
    }

    #[test]
    fn a_cycle_is_reported_with_its_path() {
        // Same layer, so the layering cannot catch it: only the cycle check does.
        let layers: &[&[&str]] = &[&["hash"], &["receipt", "keys"]];
        let src = files(&[
            ("receipt/mod.rs", "use crate::keys::Signer;"),
            (
                "keys/mod.rs",
                "fn f() { crate::receipt::format_timestamp(now) }",
            ),
        ]);
        let problems = check_imports(&src, layers);
        assert!(
            problems.contains(
                &"import cycle keys -> receipt -> keys (through keys/mod.rs, receipt/mod.rs)"
                    .to_owned()
            ),
            "{problems:#?}"
        );
    }

    #[test]
    fn a_cycle_one_level_down_is_reported() {
        let src = files(&[
            ("web/app.rs", "use crate::web::routes::admin::list;"),
            ("web/routes/admin.rs", "use crate::web::app::AppState;"),
        ]);
        let problems = check_imports(&src, LAYERS);
        assert_eq!(
            problems,
            [
                "import cycle web::app -> web::routes -> web::app (through web/app.rs, web/routes/admin.rs)"
            ]
        );
    }

    #[test]
    fn a_layering_violation_is_reported() {
        let src = files(&[
            ("store/mod.rs", "use crate::web::error::ApiError;"),
            ("web/mod.rs", "use crate::store;"),
        ]);
        let problems = check_imports(&src, LAYERS);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(
            problems[0].starts_with(
                "collector/src/store/mod.rs: `store` imports `crate::web::error::ApiError`, \
                 against the layering"
            ),
            "{problems:#?}"
        );
        assert_eq!(
            problems[1],
            "import cycle store -> web -> store (through store/mod.rs, web/mod.rs)"
        );
    }

    #[test]
    fn super_paths_and_groups_resolve() {
        let src = files(&[("store/admin.rs", "use super::super::web::Thing;")]);
        assert!(check_imports(&src, LAYERS)[0].contains("`crate::web::Thing`"));
        let got = imports(
            &["web".into(), "routes".into(), "admin".into()],
            "use crate::{a, b::{c, d::E}};\n// use crate::comment;\nlet x = super::y::z;\n",
        );
        let got: Vec<String> = got.into_iter().map(|p| p.join("::")).collect();
        assert_eq!(got, ["a", "b::c", "b::d::E", "web::routes::y::z"]);
    }

    #[test]
    fn test_code_does_not_count() {
        let src = files(&[(
            "store/mod.rs",
            "fn f() {}\n#[cfg(test)]\nmod tests {\n    use crate::web::fixture;\n}\n",
        )]);
        assert_eq!(check_imports(&src, LAYERS), Vec::<String>::new());
    }

    #[test]
    fn a_backend_crate_outside_its_folder_is_reported() {
        let confined = &[("rusqlite", "store/sqlite/")];
        let src = files(&[
            ("store/sqlite/reader.rs", "use rusqlite::Connection;"),
            (
                "store/mod.rs",
                "// rusqlite::Error stays a source\nuse crate::store::api;",
            ),
            (
                "web/routes/ops.rs",
                "fn f() {}\n#[cfg(test)]\nmod tests {\n    use rusqlite::Connection;\n}\n",
            ),
            ("cli/admin.rs", "let c = rusqlite::Connection::open(p);"),
            ("cli/backup.rs", "use my_rusqlite::X;"),
        ]);
        assert_eq!(
            check_confined(&src, confined),
            ["collector/src/cli/admin.rs: names `rusqlite`, which only \
                 collector/src/store/sqlite/ may use; go through the storage interface \
                 (`store::Store`, `store::Reader`)"]
        );
    }

    #[test]
    fn an_unknown_top_level_module_is_reported() {
        let src = files(&[("misc.rs", "")]);
        assert!(check_imports(&src, LAYERS)[0].contains("`misc` is in no layer"));
    }

    #[test]
    fn headers_and_lengths() {
        assert_eq!(
            check_file("a/src/x.rs", "use std::fs;\n"),
            ["a/src/x.rs: no `//!` header; open the file with a line saying what it is for"]
        );
        let long = format!("//! long\n{}", "fn f() {}\n".repeat(MAX_LINES));
        assert_eq!(check_file("a/src/x.rs", &long).len(), 1);
        assert!(check_file("a/tests/x.rs", &long).is_empty());
        assert!(check_file("a/src/x/tests.rs", &long).is_empty());
        assert!(check_file("widget/src/guard.rs", &long).is_empty());
        let with_tests = format!("{long}#[cfg(test)]\nmod tests {{\n}}\n");
        assert_eq!(check_file("a/src/x.rs", &with_tests).len(), 1);
        let short = format!(
            "//! short\n#[cfg(test)]\nmod tests {{\n{}}}\n",
            "fn f() {}\n".repeat(MAX_LINES)
        );
        assert!(check_file("a/src/x.rs", &short).is_empty());
    }
}

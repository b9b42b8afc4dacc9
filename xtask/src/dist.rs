//! `cargo xtask dist`: widget wasm → wasm-bindgen → wasm-opt → content-hashed files in dist/.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::install::{self, cargo, run};
use crate::root;

/// One shipped file and what it costs a visitor.
pub struct Shipped {
    pub name: String,
    pub raw: usize,
    pub gzip: usize,
    pub brotli: usize,
}

/// Builds the widget and writes every shipped file (plus `.br`/`.gz` siblings) to dist/.
pub fn dist() -> Result<Vec<Shipped>> {
    install::wasm_target()?;
    let wasm_opt = install::wasm_opt()?;
    run(cargo().args([
        "build",
        "--package",
        "kelisim-widget",
        "--target",
        "wasm32-unknown-unknown",
        "--profile",
        "widget",
    ]))?;
    let target = crate::target_dir();
    let input = target.join("wasm32-unknown-unknown/widget/kelisim_widget.wasm");

    let bindgen_dir = target.join("widget-bindgen");
    let _ = fs::remove_dir_all(&bindgen_dir);
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&input)
        .web(true)?
        .typescript(false)
        .debug(false)
        .keep_debug(false)
        .remove_name_section(true)
        .remove_producers_section(true)
        .generate(&bindgen_dir)
        .context("wasm-bindgen failed on the widget")?;

    shorten_imports(
        &bindgen_dir.join("kelisim_widget_bg.wasm"),
        &bindgen_dir.join("kelisim_widget.js"),
    )?;

    let optimised = bindgen_dir.join("kelisim_opt.wasm");
    run(Command::new(&wasm_opt)
        .arg("-Oz")
        // The features rustc's wasm32 target enables by default (binaryen wants them named).
        .args([
            "--enable-bulk-memory",
            "--enable-reference-types",
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-mutable-globals",
            "--enable-multivalue",
            "--strip-debug",
            "--strip-producers",
        ])
        .arg(bindgen_dir.join("kelisim_widget_bg.wasm"))
        .arg("-o")
        .arg(&optimised))?;

    let terser = install::terser()?;
    let glue = minify(&terser, &bindgen_dir.join("kelisim_widget.js"), true)?;
    let wasm = read(&optimised)?;
    // The floating control's rules alone, for a returning visitor's page that needs nothing
    // else of the widget (the loader's light path), and appended to the whole stylesheet.
    let open_source = read(&root().join("widget/css/open.css"))?;
    let mut whole = read(&root().join("widget/css/kelisim.css"))?;
    whole.push(b'\n');
    whole.extend_from_slice(&open_source);
    let css = minify_css(&whole, &bindgen_dir, "kelisim")?;
    let open_css = minify_css(&open_source, &bindgen_dir, "open")?;
    let glue_name = hashed("kelisim", "js", &glue);
    let wasm_name = hashed("kelisim", "wasm", &wasm);
    let css_name = hashed("kelisim", "css", &css);
    let open_css_name = hashed("kelisim", "css", &open_css);

    let loader = String::from_utf8(read(&root().join("widget/js/loader.js"))?)
        .context("widget/js/loader.js is not UTF-8")?;
    let loader = fill(&loader, "__KELISIM_GLUE__", &glue_name)?;
    let loader = fill(&loader, "__KELISIM_WASM__", &wasm_name)?;
    let loader = fill(&loader, "__KELISIM_CSS__", &css_name)?;
    let loader = fill(&loader, "__KELISIM_OPEN_CSS__", &open_css_name)?;
    let filled = bindgen_dir.join("loader.js");
    fs::write(&filled, loader)?;
    let loader = minify(&terser, &filled, false)?;

    let out = crate::dist_dir();
    fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let files = [
        ("kelisim.js".to_string(), loader),
        (glue_name, glue),
        (wasm_name, wasm),
        (css_name, css),
        (open_css_name, open_css),
    ];
    let mut shipped = Vec::new();
    for (name, bytes) in &files {
        shipped.push(write_with_siblings(&out, name, bytes)?);
    }
    // Files of an older build go; unchanged ones were left as they were (see `write_if_changed`).
    let keep: Vec<String> = files
        .iter()
        .flat_map(|(name, _)| [name.clone(), format!("{name}.gz"), format!("{name}.br")])
        .collect();
    for entry in fs::read_dir(&out)? {
        let entry = entry?;
        if !keep
            .iter()
            .any(|k| *k == entry.file_name().to_string_lossy())
        {
            fs::remove_file(entry.path())?;
        }
    }
    report(&shipped);
    Ok(shipped)
}

/// Renames the wasm's imports to short names (`a`, `b`, … and the module `k`), in the wasm and
/// in the glue that provides them. wasm-bindgen names each import `__wbg_<name>_<16 hex>`: with
/// some 60 imports, those hashes, written in both files, were about 1 KB brotli that no
/// compressor can shrink. Each name must be a key of the glue's imports object exactly once.
fn shorten_imports(wasm: &Path, glue: &Path) -> Result<()> {
    const MODULE: &str = "./kelisim_widget_bg.js";
    let mut module = walrus::Module::from_file(wasm)
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .with_context(|| format!("cannot read {}", wasm.display()))?;
    let mut text = String::from_utf8(read(glue)?).context("the glue is not UTF-8")?;
    for (i, import) in module.imports.iter_mut().enumerate() {
        if import.module != MODULE {
            bail!(
                "unexpected import module {:?} of {:?}",
                import.module,
                import.name
            );
        }
        let key = format!("{}: ", import.name);
        if text.matches(&key).count() != 1 {
            bail!(
                "the glue does not name import {:?} exactly once",
                import.name
            );
        }
        let short = short_name(i);
        text = text.replacen(&key, &format!("{short}: "), 1);
        import.name = short;
        import.module = "k".to_owned();
    }
    let module_key = format!("\"{MODULE}\": ");
    if text.matches(&module_key).count() != 1 {
        bail!("the glue does not name the import module {MODULE:?} exactly once");
    }
    text = text.replacen(&module_key, "\"k\": ", 1);
    module
        .emit_wasm_file(wasm)
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .with_context(|| format!("cannot write {}", wasm.display()))?;
    fs::write(glue, text)?;
    Ok(())
}

/// `a`…`z`, `A`…`Z`, then `aa`, `ab`, …: short, and valid as object keys.
fn short_name(mut i: usize) -> String {
    const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut reversed = String::new();
    loop {
        reversed.push(char::from(LETTERS[i % LETTERS.len()]));
        i /= LETTERS.len();
        if i == 0 {
            break;
        }
        i -= 1;
    }
    reversed.chars().rev().collect()
}

/// Minifies a script with terser: comments and whitespace are bytes every visitor pays for.
/// The glue is an ES module (`module`); the loader is a classic script, so its top-level
/// names are left alone.
fn minify(terser: &Path, script: &Path, module: bool) -> Result<Vec<u8>> {
    let out = script.with_extension("min.js");
    let mut cmd = Command::new("node");
    cmd.arg(terser)
        .arg(script)
        .args(["--compress", "--mangle", "--comments", "false"]);
    if module {
        cmd.arg("--module");
    }
    run(cmd.arg("--output").arg(&out))?;
    read(&out)
}

/// Minifies a stylesheet with csso, without restructuring (rule order is the cascade), via
/// `<work>/<stem>.css`.
fn minify_css(css: &[u8], work: &Path, stem: &str) -> Result<Vec<u8>> {
    let source = work.join(format!("{stem}.css"));
    let out = work.join(format!("{stem}.min.css"));
    fs::write(&source, css).with_context(|| format!("cannot write {}", source.display()))?;
    run(Command::new("node")
        .arg(install::csso()?)
        .arg(&source)
        .arg("--no-restructure")
        .arg("--output")
        .arg(&out))?;
    read(&out)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// `stem.<16 hex of sha256>.ext`: safe to cache forever, since new content gets a new name.
fn hashed(stem: &str, ext: &str, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{stem}.{hex}.{ext}")
}

fn fill(text: &str, placeholder: &str, value: &str) -> Result<String> {
    if !text.contains(placeholder) {
        bail!(
            "widget/js/loader.js has no {placeholder} placeholder: the loader cannot find {value}"
        );
    }
    Ok(text.replace(placeholder, value))
}

fn write_with_siblings(dir: &Path, name: &str, bytes: &[u8]) -> Result<Shipped> {
    let gz = gzip(bytes)?;
    let br = brotli(bytes)?;
    write_if_changed(&dir.join(name), bytes)?;
    write_if_changed(&dir.join(format!("{name}.gz")), &gz)?;
    write_if_changed(&dir.join(format!("{name}.br")), &br)?;
    Ok(Shipped {
        name: name.to_string(),
        raw: bytes.len(),
        gzip: gz.len(),
        brotli: br.len(),
    })
}

/// Leaves a file with the same bytes untouched: the collector embeds dist/ (build.rs), and a
/// new modification time alone would make cargo rebuild it.
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)?;
    Ok(enc.finish()?)
}

/// Brotli at quality 11, as the size budgets in the issues are stated.
pub fn brotli(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 22,
        ..Default::default()
    };
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
    Ok(out)
}

fn report(files: &[Shipped]) {
    println!(
        "{:<34} {:>9} {:>9} {:>9}",
        "shipped file", "raw", "gzip", "brotli"
    );
    for f in files {
        println!("{:<34} {:>9} {:>9} {:>9}", f.name, f.raw, f.gzip, f.brotli);
    }
    let sum = |get: fn(&Shipped) -> usize| files.iter().map(get).sum::<usize>();
    println!(
        "{:<34} {:>9} {:>9} {:>9}  (bytes; brotli total {:.1} KB)",
        "total",
        sum(|f| f.raw),
        sum(|f| f.gzip),
        sum(|f| f.brotli),
        sum(|f| f.brotli) as f64 / 1000.0
    );
}

#[cfg(test)]
mod tests {
    use super::short_name;

    #[test]
    fn short_names_are_distinct_identifiers() {
        let names: Vec<String> = (0..3000).map(short_name).collect();
        assert_eq!(&names[..3], ["a", "b", "c"]);
        assert_eq!(names[52], "aa");
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        assert!(
            names
                .iter()
                .all(|n| n.bytes().all(|b| b.is_ascii_alphabetic()))
        );
    }
}

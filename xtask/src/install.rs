//! Installs what the pipeline needs when it is missing, from the registries this project may use.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::root;

/// binaryen from npm: Debian's binaryen and the `wasm-opt` crate are too old for
/// current wasm-bindgen output (see TOOLCHAIN.md).
const BINARYEN: &str = "binaryen@132.0.0";
const TERSER: &str = "terser@5.44.0";
const CSSO: &str = "csso-cli@4.0.2";
const VANILLA: &str = "vanilla-cookieconsent@3.1.0";
const AXE: &str = "axe-core@4.11.0";
/// The session recorder and the product-analytics tracker the shield's browser tests run.
const RRWEB: &str = "rrweb@2.2.2";
const POSTHOG: &str = "posthog-js@1.449.2";
/// The web libraries of the stacks the widget must survive (issue 12), as their sites load them:
/// jQuery with $.ajax and jquery-validation (WordPress, 1C-Bitrix themes), React 18 with
/// react-hook-form, Vue 3, htmx 1 and 2. One prefix, `.tools/stacks`; two htmx majors by npm
/// aliases.
const STACKS: &[&str] = &[
    "jquery@3.8.0",
    "jquery-validation@1.22.1",
    "react@18.3.1",
    "react-dom@18.3.1",
    "react-hook-form@7.92.0",
    "vue@3.5.45",
    "htmx1@npm:htmx.org@1.9.12",
    "htmx2@npm:htmx.org@2.0.11",
];
/// The independent JOSE library the collector's tests verify receipts with.
const JWCRYPTO: &str = "jwcrypto==1.6.1";
const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Runs a command, echoing it, and fails with its exit status.
pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: $ {}", describe(cmd));
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{}`", describe(cmd)))?;
    if !status.success() {
        bail!("`{}` failed with {status}", describe(cmd));
    }
    Ok(())
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// The static release build's target (`cargo xtask package`).
pub const MUSL: &str = "x86_64-unknown-linux-musl";
/// Tells collector/build.rs which built widget to embed.
pub const EMBED_VAR: &str = "KELISIM_EMBED_WIDGET";

/// `cargo` as invoked for this run (respects `$CARGO` set by cargo itself). Once `dist/`
/// holds a built widget, collector builds embed it (collector/build.rs): every cargo command
/// of the pipeline sees the same setting, so none rebuilds the collector for another's sake.
pub fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    let dist = crate::dist_dir();
    if dist.join("kelisim.js").exists() {
        cmd.env(EMBED_VAR, dist);
    }
    cmd
}

pub fn wasm_target() -> Result<()> {
    let out = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(root())
        .output()
        .context("rustup is needed to add the wasm32 target")?;
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == WASM_TARGET)
    {
        return Ok(());
    }
    run(Command::new("rustup")
        .args(["target", "add", WASM_TARGET])
        .current_dir(root()))
}

/// `wasm-opt` from npm's binaryen, installed into the git-ignored `.tools/` on first use.
pub fn wasm_opt() -> Result<PathBuf> {
    npm("binaryen", BINARYEN, "node_modules/.bin/wasm-opt")
}

/// terser, the JavaScript minifier for the loader and the glue.
pub fn terser() -> Result<PathBuf> {
    npm("terser", TERSER, "node_modules/terser/bin/terser")
}

/// csso, the CSS minifier for the widget's stylesheet.
pub fn csso() -> Result<PathBuf> {
    npm("csso", CSSO, "node_modules/csso-cli/bin/csso")
}

/// vanilla-cookieconsent, the reference banner the banner benchmark races against.
pub fn vanilla_cookieconsent() -> Result<PathBuf> {
    let package = npm(
        "vanilla-cookieconsent",
        VANILLA,
        "node_modules/vanilla-cookieconsent/package.json",
    )?;
    Ok(package.parent().map(PathBuf::from).unwrap_or(package))
}

/// axe-core, the accessibility engine the browser tests inject into pages.
pub fn axe() -> Result<PathBuf> {
    npm("axe-core", AXE, "node_modules/axe-core/axe.min.js")
}

/// rrweb's package: `dist/rrweb.umd.min.cjs`, its UMD build (sets `window.rrweb`).
pub fn rrweb() -> Result<PathBuf> {
    package("rrweb", RRWEB, "dist/rrweb.umd.min.cjs")
}

/// posthog-js's package: `dist/array.full.js`, the script-tag build with session recording
/// bundled (sets `window.posthog`).
pub fn posthog() -> Result<PathBuf> {
    package("posthog-js", POSTHOG, "dist/array.full.js")
}

/// The stacks' packages (`STACKS`) under `.tools/stacks/node_modules`, installed again when the
/// pinned list changed (it is kept in `.tools/stacks/pinned`).
pub fn stacks() -> Result<PathBuf> {
    let dir = root().join(".tools/stacks");
    let pinned = dir.join("pinned");
    let want = STACKS.join("\n");
    if std::fs::read_to_string(&pinned).ok().as_deref() != Some(want.as_str()) {
        std::fs::create_dir_all(&dir)?;
        run(Command::new("npm")
            .args([
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--prefix",
            ])
            .arg(&dir)
            .args(STACKS))
        .context("installing the stacks' web libraries needs node and npm")?;
        std::fs::write(&pinned, want)?;
    }
    Ok(dir.join("node_modules"))
}

/// The directory of npm package `name` installed under `.tools/<name>/`, checked by `file`.
fn package(name: &str, pinned: &str, file: &str) -> Result<PathBuf> {
    let marker = format!("node_modules/{name}/{file}");
    npm(name, pinned, &marker)?;
    Ok(root()
        .join(".tools")
        .join(name)
        .join("node_modules")
        .join(name))
}

/// Installs a pinned npm package into `.tools/<dir>/` unless `marker` (relative to it)
/// exists. One prefix per package: `npm install --no-save` prunes what it did not list.
fn npm(dir: &str, package: &str, marker: &str) -> Result<PathBuf> {
    let tools = root().join(".tools").join(dir);
    let path = tools.join(marker);
    if path.exists() {
        return Ok(path);
    }
    std::fs::create_dir_all(&tools)?;
    run(Command::new("npm")
        .args([
            "install",
            "--no-save",
            "--no-audit",
            "--no-fund",
            "--prefix",
        ])
        .arg(&tools)
        .arg(package))
    .with_context(|| {
        format!("installing {package} needs node and npm (Debian: apt-get install nodejs npm)")
    })?;
    Ok(path)
}

/// A Python with jwcrypto, in a venv under the git-ignored `.tools/py`; returns its python.
pub fn jwcrypto() -> Result<PathBuf> {
    let venv = root().join(".tools/py");
    let python = venv.join("bin/python");
    let has_jwcrypto = || {
        Command::new(&python)
            .args(["-c", "import jwcrypto"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has_jwcrypto() {
        return Ok(python);
    }
    // Debian's python3 needs python3-venv for `-m venv` (ensurepip).
    let venv_works = Command::new("python3")
        .args(["-c", "import ensurepip, venv"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !venv_works {
        apt_install(&["python3", "python3-venv"])?;
    }
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv))
        .context("creating the Python venv for jwcrypto")?;
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        JWCRYPTO,
    ]))
    .with_context(|| format!("installing {JWCRYPTO} from PyPI"))?;
    if !has_jwcrypto() {
        bail!("{} still cannot import jwcrypto", python.display());
    }
    Ok(python)
}

/// The OpenAPI contract tester `cargo xtask contract` runs (PyPI, pinned).
const SCHEMATHESIS: &str = "schemathesis==4.32.5";

/// schemathesis's `st` in the `.tools/py` venv (created with jwcrypto); returns its path.
pub fn schemathesis() -> Result<PathBuf> {
    let python = jwcrypto()?;
    let st = root().join(".tools/py/bin/st");
    let installed = || {
        Command::new(&python)
            .args(["-m", "pip", "show", "schemathesis"])
            .output()
            .is_ok_and(|o| {
                o.status.success()
                    && String::from_utf8_lossy(&o.stdout).contains(&format!(
                        "Version: {}",
                        SCHEMATHESIS.trim_start_matches("schemathesis==")
                    ))
            })
    };
    if installed() && st.exists() {
        return Ok(st);
    }
    run(Command::new(&python).args([
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        SCHEMATHESIS,
    ]))
    .with_context(|| format!("installing {SCHEMATHESIS} from PyPI"))?;
    Ok(st)
}

/// The static release build's target and the C compiler bundled SQLite needs for it
/// (Debian's musl-tools: `musl-gcc`).
pub fn musl() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(root())
        .output()
        .context("rustup is needed to add the musl target")?;
    if !String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == MUSL)
    {
        run(Command::new("rustup")
            .args(["target", "add", MUSL])
            .current_dir(root()))?;
    }
    apt(&[("musl-tools", "/usr/bin/musl-gcc")])
}

/// Debian's nginx and Caddy for the reverse-proxy tests (deploy/), with openssl and curl.
pub fn proxies() -> Result<(PathBuf, PathBuf)> {
    apt(&[
        ("nginx", "/usr/sbin/nginx"),
        ("caddy", "/usr/bin/caddy"),
        ("openssl", "/usr/bin/openssl"),
        ("curl", "/usr/bin/curl"),
    ])?;
    Ok(("/usr/sbin/nginx".into(), "/usr/bin/caddy".into()))
}

/// Debian's PostgreSQL server, for the store's tests (they run `initdb` themselves, as an
/// unprivileged user, on a loopback port). Returns the directory of its binaries.
pub fn postgresql() -> Result<PathBuf> {
    if let Some(bin) = kelisim_testpg::installed_bin_dir() {
        return Ok(bin);
    }
    apt_install(&["postgresql"])?;
    kelisim_testpg::installed_bin_dir()
        .context("apt-get installed postgresql, yet no /usr/lib/postgresql/*/bin/initdb")
}

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// Debian's Chromium and ChromeDriver (test tools must not download their own browser).
pub fn chromium() -> Result<()> {
    apt(&[("chromium", CHROMIUM), ("chromium-driver", CHROMEDRIVER)])
}

/// Installs Debian packages whose marker file is missing.
pub fn apt(packages: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(_, file)| !Path::new(file).exists())
        .map(|(pkg, _)| *pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(&missing)
}

/// `apt-get update` and `apt-get install` of `packages`, with sudo unless root.
fn apt_install(packages: &[&str]) -> Result<()> {
    let sudo = !is_root();
    let apt_get = |args: &[&str]| {
        let mut cmd = if sudo {
            Command::new("sudo")
        } else {
            Command::new("apt-get")
        };
        if sudo {
            cmd.arg("apt-get");
        }
        cmd.args(["-q", "-o", "DPkg::Lock::Timeout=600"]).args(args);
        cmd.env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run(&mut apt_get(&["update"]))?;
    let mut install = apt_get(&["install", "-y", "--no-install-recommends"]);
    install.args(packages);
    run(&mut install).with_context(|| format!("installing {}", packages.join(" ")))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

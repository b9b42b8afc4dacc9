//! Reading a systemd service unit and its drop-ins, so the package test can start the service
//! the way systemd would on a machine where systemd is not PID 1: the same user, environment,
//! state directory, umask, `ExecStart` and `ExecReload` lines.
//!
//! Only what the test needs: `[Service]` assignments in order (a later assignment of a
//! single-valued key wins; `Environment=` accumulates, an empty one resets), drop-ins from
//! `/etc/systemd/system/<unit>.d/*.conf` in name order, and command lines split on
//! whitespace with `$VAR`/`${VAR}` taken from the service's environment.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};

#[derive(Debug, Default)]
pub struct Unit {
    /// `[Service]` assignments in the order systemd reads them.
    service: Vec<(String, String)>,
}

impl Unit {
    /// The unit at `path` with the drop-ins in `dropins` (a `<unit>.d` directory, may be absent).
    pub fn load(path: &Path, dropins: &Path) -> Result<Unit> {
        let mut unit = Unit::default();
        unit.read(path)?;
        if let Ok(listing) = fs::read_dir(dropins) {
            let mut files: Vec<_> = listing
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "conf"))
                .collect();
            files.sort();
            for file in files {
                unit.read(&file)?;
            }
        }
        Ok(unit)
    }

    fn read(&mut self, path: &Path) -> Result<()> {
        let text =
            fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut section = String::new();
        let mut pending = String::new();
        for raw in text.lines() {
            // A trailing backslash continues the line.
            if let Some(start) = raw.strip_suffix('\\') {
                pending.push_str(start);
                pending.push(' ');
                continue;
            }
            let line = std::mem::take(&mut pending) + raw;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
                continue;
            }
            if section != "Service" {
                continue;
            }
            let (key, value) = line
                .split_once('=')
                .with_context(|| format!("{}: not an assignment: {line}", path.display()))?;
            self.service
                .push((key.trim().to_owned(), value.trim().to_owned()));
        }
        Ok(())
    }

    /// The value of a single-valued `[Service]` key (its last assignment).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.service
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every assignment of `key`, in order (for list-valued keys like `SystemCallFilter=`).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.service
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The service's environment from its `Environment=` lines (`EnvironmentFile=` is not
    /// supported: the test refuses a unit that uses it).
    pub fn environment(&self) -> Result<BTreeMap<String, String>> {
        if self.get("EnvironmentFile").is_some() {
            bail!("the package test does not read EnvironmentFile=");
        }
        let mut env = BTreeMap::new();
        for value in self.all("Environment") {
            if value.is_empty() {
                env.clear();
                continue;
            }
            for assignment in words(value)? {
                let (name, val) = assignment
                    .split_once('=')
                    .with_context(|| format!("Environment={value}: no `=`"))?;
                env.insert(name.to_owned(), val.to_owned());
            }
        }
        Ok(env)
    }

    /// `key`'s command line (`ExecStart`, `ExecReload`) as argv, with `$VAR` and `${VAR}`
    /// replaced from `env`. Prefixes like `-` or `+` are refused: the unit uses none and the
    /// test would not honour them.
    pub fn command(&self, key: &str, env: &BTreeMap<String, String>) -> Result<Vec<String>> {
        let line = self
            .get(key)
            .with_context(|| format!("the unit has no {key}="))?;
        if line.starts_with(['-', '@', '+', '!', ':']) {
            bail!("{key}={line}: prefixes are not supported by the package test");
        }
        words(line)?
            .into_iter()
            .map(|word| expand(&word, env))
            .collect()
    }
}

/// Splits a unit value on whitespace, honouring double quotes.
fn words(value: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in value.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut word));
                    any = false;
                }
            }
            c => {
                word.push(c);
                any = true;
            }
        }
    }
    if quoted {
        bail!("unbalanced quote in `{value}`");
    }
    if any {
        out.push(word);
    }
    Ok(out)
}

/// `$VAR` or `${VAR}` (the whole word, as systemd's own expansion of a lone word) from `env`.
fn expand(word: &str, env: &BTreeMap<String, String>) -> Result<String> {
    let name = word
        .strip_prefix("${")
        .and_then(|w| w.strip_suffix('}'))
        .or_else(|| word.strip_prefix('$'));
    match name {
        Some(name) => env
            .get(name)
            .cloned()
            .with_context(|| format!("`{word}`: {name} is not set for the service")),
        None if word.contains('$') => bail!("`{word}`: only whole-word variables are supported"),
        None => Ok(word.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropins_override_and_environment_accumulates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let unit = dir.path().join("x.service");
        fs::write(
            &unit,
            "[Unit]\nDescription=x\n[Service]\nUser=a\nEnvironment=A=1 \"B=two words\"\n\
             ExecStart=/bin/x serve \\\n  --flag\nExecReload=/bin/kill -HUP $MAINPID\n",
        )
        .expect("write");
        let dropins = dir.path().join("x.service.d");
        fs::create_dir(&dropins).expect("mkdir");
        fs::write(
            dropins.join("override.conf"),
            "[Service]\nUser=b\nEnvironment=A=3\n",
        )
        .expect("write");
        let unit = Unit::load(&unit, &dropins).expect("load");
        assert_eq!(unit.get("User"), Some("b"));
        let mut env = unit.environment().expect("env");
        assert_eq!(env.get("A").map(String::as_str), Some("3"));
        assert_eq!(env.get("B").map(String::as_str), Some("two words"));
        assert_eq!(
            unit.command("ExecStart", &env).expect("start"),
            ["/bin/x", "serve", "--flag"]
        );
        assert!(unit.command("ExecReload", &env).is_err(), "no MAINPID yet");
        env.insert("MAINPID".into(), "42".into());
        assert_eq!(
            unit.command("ExecReload", &env).expect("reload"),
            ["/bin/kill", "-HUP", "42"]
        );
    }
}

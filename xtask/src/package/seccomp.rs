//! What the unit's sandbox would refuse, judged from an strace of the real service: without
//! systemd as PID 1 the package test cannot run the collector under the unit's seccomp
//! filter, so it records every system call the collector makes while it serves, signs and
//! reloads, and checks each against the unit's `SystemCallFilter=` (expanded with
//! `systemd-analyze syscall-filter`, systemd's own table), `RestrictAddressFamilies=` and
//! `MemoryDenyWriteExecute=`. A call outside them would fail with EPERM under systemd.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// systemd's named groups (`@system-service` …) and their members, some of them groups.
pub fn syscall_groups() -> Result<BTreeMap<String, Vec<String>>> {
    let out = Command::new("systemd-analyze")
        .arg("syscall-filter")
        .output()
        .context("systemd-analyze syscall-filter (Debian's systemd package)")?;
    if !out.status.success() {
        bail!(
            "systemd-analyze syscall-filter failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(parse_groups(&String::from_utf8_lossy(&out.stdout)))
}

fn parse_groups(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current = None;
    for line in text.lines() {
        if line.starts_with('@') {
            let name = line.trim().to_owned();
            groups.entry(name.clone()).or_default();
            current = Some(name);
        } else if let Some(name) = &current {
            let member = line.trim();
            if !member.is_empty() && !member.starts_with('#') {
                groups
                    .entry(name.clone())
                    .or_default()
                    .push(member.to_owned());
            }
        }
    }
    groups
}

/// The system calls a set of `SystemCallFilter=` assignments allows: the first assignment
/// is an allow list (the unit must start with one), later ones add to it, `~` ones remove.
pub fn allowed(
    filters: &[&str],
    groups: &BTreeMap<String, Vec<String>>,
) -> Result<BTreeSet<String>> {
    let mut allowed = BTreeSet::new();
    for (i, filter) in filters.iter().enumerate() {
        let (deny, names) = match filter.strip_prefix('~') {
            Some(rest) => (true, rest),
            None => (false, *filter),
        };
        if i == 0 && deny {
            bail!("SystemCallFilter= starts with a deny list; the test expects an allow list");
        }
        let mut set = BTreeSet::new();
        for name in names.split_whitespace() {
            // `name:errno` sets a per-call error number; the name is what counts.
            let name = name.split(':').next().unwrap_or(name);
            expand(name, groups, &mut set)?;
        }
        if deny {
            allowed.retain(|s| !set.contains(s));
        } else {
            allowed.extend(set);
        }
    }
    Ok(allowed)
}

fn expand(
    name: &str,
    groups: &BTreeMap<String, Vec<String>>,
    into: &mut BTreeSet<String>,
) -> Result<()> {
    if name.starts_with('@') {
        let members = groups
            .get(name)
            .with_context(|| format!("systemd knows no syscall group {name}"))?;
        for member in members {
            expand(member, groups, into)?;
        }
    } else {
        into.insert(name.to_owned());
    }
    Ok(())
}

/// What an `strace -f` log shows the process did that the sandbox would refuse.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Every system call made, with how often.
    pub calls: BTreeMap<String, usize>,
    /// Calls outside the filter.
    pub refused: BTreeSet<String>,
    /// Socket address families used.
    pub used_families: BTreeSet<String>,
    /// Socket address families used outside `RestrictAddressFamilies=`.
    pub families: BTreeSet<String>,
    /// Calls `MemoryDenyWriteExecute=` rejects (writable and executable memory).
    pub wx: Vec<String>,
}

impl Verdict {
    pub fn is_clean(&self) -> bool {
        self.refused.is_empty() && self.families.is_empty() && self.wx.is_empty()
    }
}

/// Judges an `strace -f` log (`PID name(args) = result` lines).
pub fn judge(log: &str, allowed: &BTreeSet<String>, families: &[&str]) -> Verdict {
    let mut verdict = Verdict::default();
    for line in log.lines() {
        // "1234  name(args…" — the PID, then the call; skip "<... name resumed>" halves,
        // signals ("--- SIGHUP …") and exits ("+++ exited …").
        let rest = line
            .trim_start()
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .trim_start();
        let Some(open) = rest.find('(') else { continue };
        let name = &rest[..open];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            continue;
        }
        let args = &rest[open + 1..];
        *verdict.calls.entry(name.to_owned()).or_default() += 1;
        if !allowed.contains(name) {
            verdict.refused.insert(name.to_owned());
        }
        if matches!(name, "socket" | "socketpair") {
            let family = args.split([',', ')']).next().unwrap_or("").trim();
            verdict.used_families.insert(family.to_owned());
            if !families.contains(&family) {
                verdict.families.insert(family.to_owned());
            }
        }
        let exec = args.contains("PROT_EXEC");
        let write = args.contains("PROT_WRITE");
        let refused_wx = match name {
            "mmap" | "mmap2" => exec && write,
            "mprotect" | "pkey_mprotect" => exec,
            "shmat" => args.contains("SHM_EXEC"),
            _ => false,
        };
        if refused_wx {
            verdict.wx.push(line.trim().to_owned());
        }
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    const GROUPS: &str =
        "@a\n    # comment\n    read\n    @b\n\n@b\n    write\n    kill\n\n@c\n    kill\n";

    #[test]
    fn groups_expand_and_deny_lists_subtract() {
        let groups = parse_groups(GROUPS);
        let allowed = allowed(&["@a", "~@c", "openat"], &groups).expect("allowed");
        assert_eq!(
            allowed.into_iter().collect::<Vec<_>>(),
            ["openat", "read", "write"]
        );
        assert!(super::allowed(&["~@a"], &groups).is_err());
        assert!(super::allowed(&["@nope"], &groups).is_err());
    }

    #[test]
    fn a_trace_is_judged_call_by_call() {
        let allowed: BTreeSet<String> = ["read", "socket", "mmap", "mprotect"]
            .map(String::from)
            .into();
        let log = "\
101   read(3, \"x\", 1) = 1
101   socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = 4
102   socket(AF_NETLINK, SOCK_RAW, 0) = 5
102   futex(0x1, FUTEX_WAIT, 0, NULL <unfinished ...>
101   <... futex resumed>) = 0
101   mmap(NULL, 4096, PROT_READ|PROT_EXEC, MAP_PRIVATE, 3, 0) = 0x7f
101   mprotect(0x7f, 4096, PROT_READ|PROT_WRITE|PROT_EXEC) = 0
101   --- SIGHUP {si_signo=SIGHUP} ---
101   +++ exited with 0 +++
";
        let verdict = judge(log, &allowed, &["AF_INET", "AF_UNIX"]);
        assert_eq!(verdict.calls["socket"], 2);
        assert_eq!(
            verdict.refused.iter().collect::<Vec<_>>(),
            ["futex"],
            "an unfinished call counts once"
        );
        assert_eq!(verdict.families.iter().collect::<Vec<_>>(), ["AF_NETLINK"]);
        assert_eq!(verdict.wx.len(), 1, "{:?}", verdict.wx);
        assert!(!verdict.is_clean());
    }
}

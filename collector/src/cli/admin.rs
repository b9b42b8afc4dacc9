//! The admin commands of the CLI: `tokens`, `receipts show|export|stats`, `purge`, `erase`.
//! They read the data directory directly (the export can also go through a running
//! collector's API with a token); changes go through `store::maintain_offline`, the same
//! SQL the running collector's writer executes. Erasure changes are written to the admin
//! audit trail with the token id `cli`, in the transaction that makes them.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};

use crate::admin::SiteInfo;
use crate::admin::export::{self, Format};
use crate::admin::retention;
use crate::admin::{kantara, tokens};
use crate::cli::{
    DataDirArgs, EraseArgs, ExportArgs, FilterArgs, PurgeArgs, ShowArgs, StatsArgs,
    TokenCreateArgs, TokenRevokeArgs,
};
use crate::clock::format_timestamp;
use crate::config::{Config, Site};
use crate::ops::datadir::DataDir;
use crate::receipt;
use crate::receipt::subject::{self, IdentifierKind, SubjectKey};
use crate::store::{self, BY_CLI, Location, Maintenance, ReceiptFilter, Scope, StoreError};

/// `tokens create`: prints the token once.
pub fn token_create(args: &TokenCreateArgs) -> anyhow::Result<()> {
    let now = time::OffsetDateTime::now_utc();
    // A typo in --site would make a token that opens nothing, silently.
    let config = Config::load(&args.config)?;
    for site in &args.site {
        if config.site(site).is_none() {
            let ids: Vec<&str> = config.sites.iter().map(|s| s.id.as_str()).collect();
            bail!(
                "--site `{site}` is not configured in {}; configured sites: {}",
                args.config.display(),
                ids.join(", ")
            );
        }
    }
    let expires = args
        .expires
        .as_deref()
        .map(|e| parse_expiry(e, now))
        .transpose()?;
    let scope = Scope::parse(&args.scope).context("scope must be read or admin")?;
    let token = tokens::generate(
        args.site.clone(),
        scope,
        args.label.clone(),
        format_timestamp(now),
        expires.clone(),
    )?;
    store::maintain_offline(
        &args.data.location(),
        &Maintenance::CreateToken(token.record.clone()),
    )?;
    println!("{}", token.text);
    eprintln!(
        "kelisim: token {} ({}) for {}{}; it is shown only now, store it safely",
        token.record.id,
        scope.as_str(),
        args.site.join(", "),
        expires.map_or_else(String::new, |e| format!(", expires {e}"))
    );
    Ok(())
}

/// `90d` from now, or an RFC 3339 time; in the future either way (a token that is expired
/// when it is made opens nothing).
fn parse_expiry(text: &str, now: time::OffsetDateTime) -> anyhow::Result<String> {
    let at = if let Some(days) = text.strip_suffix('d') {
        let days: i64 = days
            .parse()
            .ok()
            .filter(|d| (1..=36_500).contains(d))
            .with_context(|| format!("--expires `{text}`: write a number of days like 90d"))?;
        now + time::Duration::days(days)
    } else {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .with_context(|| {
                format!(
                    "--expires `{text}`: write 90d or an RFC 3339 time like 2027-01-01T00:00:00Z"
                )
            })?
    };
    if at <= now {
        bail!("--expires `{text}` is in the past; give a later time or a number of days like 90d");
    }
    Ok(format_timestamp(at))
}

/// `tokens list`
pub fn token_list(data: &DataDirArgs) -> anyhow::Result<()> {
    let reader = store::open_reader(&data.location())?;
    let tokens = reader.tokens()?;
    if tokens.is_empty() {
        println!("no tokens; create one with `kelisim-collector tokens create --site SITE`");
    }
    for t in tokens {
        let state = match (&t.revoked_at, &t.expires_at) {
            (Some(at), _) => format!("revoked {at}"),
            (None, Some(at)) => format!("expires {at}"),
            (None, None) => "no expiry".into(),
        };
        println!(
            "{}  {:5}  {:20}  created {}  {}  {}",
            t.id,
            t.scope.as_str(),
            t.sites.join(","),
            t.created_at,
            state,
            t.label.unwrap_or_default()
        );
    }
    Ok(())
}

/// `tokens revoke`
pub fn token_revoke(args: &TokenRevokeArgs) -> anyhow::Result<()> {
    let id = tokens::parse(&args.id).map_or(args.id.as_str(), |(id, _)| id);
    let at = format_timestamp(time::OffsetDateTime::now_utc());
    let n = store::maintain_offline(
        &args.data.location(),
        &Maintenance::RevokeToken {
            id: id.to_owned(),
            at,
        },
    )?;
    if n == 0 {
        bail!("no active token `{id}`; `tokens list` shows the ids");
    }
    println!("kelisim: token {id} revoked");
    Ok(())
}

fn load_sites(config: Option<&Path>) -> anyhow::Result<HashMap<String, SiteInfo>> {
    let Some(path) = config else {
        return Ok(HashMap::new());
    };
    let config = Config::load(path)?;
    Ok(config
        .sites
        .into_iter()
        .map(|s| (s.id.clone(), SiteInfo::from(&s)))
        .collect())
}

/// Keyed hashes of `raw`, a phone or e-mail in any spelling, as the subject index of each of
/// `sites` holds them (each site's own key, and v1's one key).
fn subject_hmacs(dir: &DataDir, sites: &[String], raw: &str) -> anyhow::Result<Vec<String>> {
    let key = SubjectKey::load(&dir.subject_key_path())?;
    let kind = if raw.contains('@') {
        IdentifierKind::Email
    } else {
        IdentifierKind::Phone
    };
    let normalised = subject::normalize(kind, raw).context("--subject")?;
    let mut readings: Vec<String> = sites
        .iter()
        .map(|site| key.site(site).index_hex(&normalised))
        .collect();
    readings.push(key.legacy_index_hex(&normalised));
    Ok(readings)
}

fn filter_from(
    dir: &DataDir,
    reader: &store::Reader,
    args: &FilterArgs,
) -> anyhow::Result<ReceiptFilter> {
    let subject_hmacs = match args.subject.as_deref() {
        Some(raw) => {
            // Without --site, every site the store has receipts of.
            let sites = match &args.site {
                Some(site) => vec![site.clone()],
                None => reader.sites()?,
            };
            Some(subject_hmacs(dir, &sites, raw)?)
        }
        None => None,
    };
    let bound = |name: &str, text: &Option<String>| {
        text.as_deref()
            .map(|t| retention::time_bound(t).map_err(|e| anyhow::anyhow!("--{name} {e}")))
            .transpose()
    };
    Ok(ReceiptFilter {
        site: args.site.clone(),
        from: bound("from", &args.from)?,
        to: bound("to", &args.to)?,
        kind: args.kind.clone(),
        event: args.event.clone(),
        policy_version: args.policy_version.clone(),
        form_id: args.form_id.clone(),
        lang: args.lang.clone(),
        subject_hmacs,
        browser_ids: None,
    })
}

/// `receipts show`
pub fn show(args: &ShowArgs) -> anyhow::Result<()> {
    let reader = store::open_reader(&args.data.location())?;
    let row = reader
        .admin_get(&args.id)?
        .with_context(|| format!("no receipt with id `{}`", args.id))?;
    let sites = load_sites(args.config.as_deref())?;
    let site = sites.get(&row.row.site);
    match args.format.as_str() {
        "jws" => println!("{}", row.row.jws),
        "kantara" => {
            let site = site.context("--format kantara needs --config with this receipt's site")?;
            let payload = receipt::decode_unverified(&row.row.jws).context("unreadable payload")?;
            let doc = kantara::render(&payload, &row.row.kid, site);
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        _ => {
            let status = export::status(
                &row,
                site.map(|s| s.retention_days),
                time::OffsetDateTime::now_utc(),
            );
            let doc = serde_json::json!({
                "receipt": export::RowWithStatus { row: &row, status },
                "payload": receipt::decode_unverified(&row.row.jws),
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
    }
    Ok(())
}

/// `receipts export`
pub fn export(args: &ExportArgs) -> anyhow::Result<()> {
    let format = Format::parse(&args.format).context("unknown format")?;
    if let (Some(url), Some(token)) = (&args.url, &args.token) {
        return export_http(url, token, args);
    }
    let dir = DataDir::new(&args.data.data_dir);
    let reader = store::open_reader(&args.data.location())?;
    let sites = load_sites(args.config.as_deref())?;
    if format == Format::Kantara && sites.is_empty() {
        bail!("--format kantara needs --config (the operator's name, contact and address)");
    }
    let filter = filter_from(&dir, &reader, &args.filter)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let n = export::write_export(&reader, &filter, format, &sites, &mut out)?;
    out.flush()?;
    eprintln!("kelisim: exported {n} receipts");
    Ok(())
}

fn export_http(url: &str, token: &str, args: &ExportArgs) -> anyhow::Result<()> {
    let site = args
        .filter
        .site
        .as_deref()
        .context("--url needs --site (admin routes are per site)")?;
    let f = &args.filter;
    let mut query = vec![("format", args.format.clone())];
    for (name, value) in [
        ("from", &f.from),
        ("to", &f.to),
        ("kind", &f.kind),
        ("event", &f.event),
        ("policy_version", &f.policy_version),
        ("form_id", &f.form_id),
        ("lang", &f.lang),
        ("subject", &f.subject),
    ] {
        if let Some(v) = value {
            query.push((name, v.clone()));
        }
    }
    let endpoint = format!("{}/v1/admin/sites/{site}/export", url.trim_end_matches('/'));
    let mut req = ureq::get(&endpoint).header("authorization", &format!("Bearer {token}"));
    for (k, v) in &query {
        req = req.query(k, v);
    }
    let mut res = req.call().with_context(|| format!("GET {endpoint}"))?;
    let mut body = res.body_mut().as_reader();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    std::io::copy(&mut body, &mut out)?;
    out.flush()?;
    Ok(())
}

/// `receipts stats`
pub fn stats(args: &StatsArgs) -> anyhow::Result<()> {
    let dir = DataDir::new(&args.data.data_dir);
    let reader = store::open_reader(&args.data.location())?;
    let filter = filter_from(&dir, &reader, &args.filter)?;
    let stats = reader.admin_stats(&filter)?;
    println!("{}", serde_json::to_string_pretty(&stats)?);
    Ok(())
}

/// `purge`: retention for every site, then the erasure requests coming due within a day
/// (run it at least daily when no `serve` runs).
pub fn purge(args: &PurgeArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.config)?;
    let now = time::OffsetDateTime::now_utc();
    for site in &config.sites {
        let job = retention::purge_job(&site.id, site.retention_days, now);
        let n = store::maintain_offline(&args.data.location(), &job)?;
        println!(
            "kelisim: site {}: purged {n} receipts older than {} days after their last event",
            site.id, site.retention_days
        );
    }
    let n = store::maintain_offline(
        &args.data.location(),
        &retention::due_erasures_job(now, retention::PERIOD),
    )?;
    println!("kelisim: carried out {n} pending erasure requests due within a day");
    Ok(())
}

/// `erase`: records a request and carries it out (or, with `--pending`, leaves it for later),
/// carries out a pending one (`--execute ID`), or lists the site's requests (`--list`).
pub fn erase(args: &EraseArgs) -> anyhow::Result<()> {
    let dir = DataDir::new(&args.data.data_dir);
    let at = args.data.location();
    let now = time::OffsetDateTime::now_utc();
    // A typo in --site would otherwise match no receipts, and look like an erasure done.
    let site = args
        .config
        .as_deref()
        .map(|path| configured_site(path, &args.site))
        .transpose()?;
    // clap lets exactly one of --subject, --execute and --list through.
    match (&args.subject, &args.execute) {
        (Some(subject), _) => {
            let site = site.context(
                "recording an erasure request needs --config FILE: the due date comes from \
                 the site's erasure_deadline_days",
            )?;
            erase_subject(&dir, args, subject, &site, now)
        }
        (None, Some(id)) => erase_execute(&at, &args.site, id, now),
        (None, None) => erase_list(&at, &args.site, now),
    }
}

/// `id`'s table in the config file at `path`.
fn configured_site(path: &Path, id: &str) -> anyhow::Result<Site> {
    let mut config = Config::load(path)?;
    let Some(at) = config.sites.iter().position(|s| s.id == id) else {
        let ids: Vec<&str> = config.sites.iter().map(|s| s.id.as_str()).collect();
        bail!(
            "--site `{id}` is not configured in {}; configured sites: {}",
            path.display(),
            ids.join(", ")
        );
    };
    Ok(config.sites.swap_remove(at))
}

fn erase_subject(
    dir: &DataDir,
    args: &EraseArgs,
    subject: &str,
    site: &Site,
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    let received = match &args.received {
        Some(text) => {
            retention::parse_received(text, now).map_err(|e| anyhow::anyhow!("--received {e}"))?
        }
        None => now,
    };
    let request = retention::erasure_request(
        &site.id,
        subject_hmacs(dir, std::slice::from_ref(&site.id), subject)?,
        received,
        site.erasure_deadline_days,
        now,
        BY_CLI,
        args.pending,
    );
    let (id, due) = (request.id.clone(), request.due_at.clone());
    let n = store::maintain_offline(&args.data.location(), &Maintenance::RequestErasure(request))?;
    if args.pending {
        println!(
            "kelisim: recorded erasure request {id} on site {} as pending, due {due}; carry it \
             out with `erase --site {} --execute {id}` (serve and purge do by then at the latest)",
            site.id, site.id
        );
    } else {
        println!(
            "kelisim: erased the subject index of {n} receipts on site {}; the signed receipts \
             stay (request {id})",
            site.id
        );
    }
    Ok(())
}

fn erase_list(at: &Location, site: &str, now: time::OffsetDateTime) -> anyhow::Result<()> {
    // Like --execute and recording: an older store is migrated, not refused.
    store::upgrade_offline(at)?;
    let reader = store::open_reader(at)?;
    let requests = reader.erasures(site, &format_timestamp(now), 1000)?;
    if requests.is_empty() {
        println!("no erasure requests on site {site}");
    }
    for e in requests {
        let state = match (&e.done_at, &e.done_by) {
            (Some(at), by) => format!(
                "done {at} by {}, {} receipts",
                by.as_deref().unwrap_or("?"),
                e.receipts
            ),
            (None, _) => "pending".to_owned(),
        };
        println!(
            "{}  received {}  due {}  {state}{}",
            e.id,
            e.received_at,
            e.due_at,
            if e.overdue { "  OVERDUE" } else { "" }
        );
    }
    Ok(())
}

fn erase_execute(
    at: &Location,
    site: &str,
    id: &str,
    now: time::OffsetDateTime,
) -> anyhow::Result<()> {
    let op = Maintenance::ExecuteErasure {
        site: site.to_owned(),
        id: id.to_owned(),
        at: format_timestamp(now),
        by: BY_CLI.to_owned(),
    };
    match store::maintain_offline(at, &op) {
        Ok(n) => println!(
            "kelisim: erased the subject index of {n} receipts on site {site}; the signed \
             receipts stay (request {id})"
        ),
        Err(StoreError::ErasureDone {
            done_at, done_by, ..
        }) => println!(
            "kelisim: erasure request {id} was already carried out at {done_at} by {done_by}"
        ),
        Err(StoreError::NoErasureRequest { .. }) => bail!(
            "site `{site}` has no erasure request `{id}`; `erase --site {site} --list` shows them"
        ),
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_days_or_a_time() {
        let now = time::macros::datetime!(2026-11-21 10:00 UTC);
        assert_eq!(
            parse_expiry("90d", now).expect("days"),
            "2027-02-19T10:00:00.000Z"
        );
        assert_eq!(
            parse_expiry("2027-01-01T00:00:00Z", now).expect("time"),
            "2027-01-01T00:00:00.000Z"
        );
        assert!(parse_expiry("soon", now).is_err());
    }
}

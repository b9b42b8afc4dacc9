//! `[log]` and `[witness]`: witnessing (c2sp.org/tlog-witness). A collector's log asks the
//! witnesses of `[[log.witness]]` to cosign its checkpoints; a collector with `[witness]`
//! cosigns the checkpoints of the logs in `[[witness.log]]`, each only if it extends the tree
//! it cosigned before. Keys are signed-note verifier keys (`name+hash+base64`): a log's is
//! served at `GET /v1/log/key`, a witness's at `GET /v1/witness/key`.

use std::time::Duration;

use kelisim_receipt::log::{KeyType, TrustedLog, VerifierKey, is_valid_key_name};

use super::ConfigError;
use super::raw::{RawLog, RawWitness};
use super::validate::{Key, Validator};

/// How often the log offers its latest checkpoint to its witnesses, by default.
pub const DEFAULT_WITNESS_INTERVAL: Duration = Duration::from_secs(10);

/// One witness this collector's log asks to cosign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogWitness {
    /// The witness's URL prefix; requests go to `<url>/add-checkpoint`.
    pub url: String,
    /// Its cosignature key (type 0x04, `cosignature/v1`); its name names the witness.
    pub key: VerifierKey,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub witnesses: Vec<LogWitness>,
    /// How often the latest checkpoint is offered to the witnesses.
    pub witness_interval: Duration,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            witnesses: Vec::new(),
            witness_interval: DEFAULT_WITNESS_INTERVAL,
        }
    }
}

/// `[witness]`: this collector as a witness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessConfig {
    /// The witness's key name (by convention a schema-less URL naming it).
    pub name: String,
    /// The logs it follows, each with the keys that sign its checkpoints.
    pub logs: Vec<TrustedLog>,
}

impl Validator<'_> {
    pub(super) fn log(&self, raw: Option<RawLog>) -> Result<LogConfig, ConfigError> {
        let Some(raw) = raw else {
            return Ok(LogConfig::default());
        };
        let key = Key::named("log");
        let interval = raw
            .witness_interval_secs
            .map_or(Ok(DEFAULT_WITNESS_INTERVAL), |s| {
                if (1..=3600).contains(&s) {
                    Ok(Duration::from_secs(u64::from(s)))
                } else {
                    Err(self.err(
                        &key.with("witness_interval_secs"),
                        format!("{s} is out of range; use 1..=3600 seconds (default 10)"),
                    ))
                }
            })?;
        let mut witnesses: Vec<LogWitness> = Vec::new();
        for (i, w) in raw.witness.into_iter().enumerate() {
            let at = key.with(format!("witness[{i}]"));
            let url = w.url.trim_end_matches('/').to_owned();
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.contains(' ') {
                return Err(self.err(
                    &at.with("url"),
                    format!("`{}` is not an http(s) URL; give the witness's URL prefix, e.g. https://witness.example.kz/v1/witness", w.url),
                ));
            }
            let vkey = self.verifier_key(&w.key, &at.with("key"))?;
            if vkey.key_type() != KeyType::CosignatureV1 {
                return Err(self.err(
                    &at.with("key"),
                    "not a witness cosignature key (type 0x04); copy the witness's GET /v1/witness/key",
                ));
            }
            if witnesses.iter().any(|o| o.key.name() == vkey.name()) {
                return Err(self.err(
                    &at.with("key"),
                    format!("witness `{}` is listed twice", vkey.name()),
                ));
            }
            witnesses.push(LogWitness { url, key: vkey });
        }
        Ok(LogConfig {
            witnesses,
            witness_interval: interval,
        })
    }

    pub(super) fn witness(
        &self,
        raw: Option<RawWitness>,
    ) -> Result<Option<WitnessConfig>, ConfigError> {
        let Some(raw) = raw else {
            return Ok(None);
        };
        let key = Key::named("witness");
        if !is_valid_key_name(&raw.name) {
            return Err(self.err(
                &key.with("name"),
                format!(
                    "`{}` is not a key name: no spaces or `+`, e.g. witness.example.kz",
                    raw.name
                ),
            ));
        }
        let mut logs: Vec<TrustedLog> = Vec::new();
        for (i, log) in raw.log.into_iter().enumerate() {
            let at = key.with(format!("log[{i}]"));
            if logs.iter().any(|l| l.origin == log.origin) {
                return Err(self.err(
                    &at.with("origin"),
                    format!("log `{}` is listed twice", log.origin),
                ));
            }
            if log.keys.is_empty() {
                return Err(self.err(
                    &at.with("keys"),
                    "list the log's key (its GET /v1/log/key), and its older keys after a rotation",
                ));
            }
            let mut keys = Vec::new();
            for (k, text) in log.keys.iter().enumerate() {
                let vkey = self.verifier_key(text, &at.with(format!("keys[{k}]")))?;
                if vkey.name() != log.origin {
                    return Err(self.err(
                        &at.with(format!("keys[{k}]")),
                        format!(
                            "the key is named `{}`, not the log's origin `{}`: a log signs its checkpoints with a key named after its origin",
                            vkey.name(),
                            log.origin
                        ),
                    ));
                }
                keys.push(vkey);
            }
            logs.push(TrustedLog {
                origin: log.origin,
                keys,
            });
        }
        if logs.is_empty() {
            return Err(self.err(
                &key.with("log"),
                "a witness follows at least one log; add a [[witness.log]] with its origin and keys",
            ));
        }
        Ok(Some(WitnessConfig {
            name: raw.name,
            logs,
        }))
    }

    fn verifier_key(&self, text: &str, key: &Key) -> Result<VerifierKey, ConfigError> {
        VerifierKey::parse(text.trim()).map_err(|e| {
            self.err(
                key,
                format!("not a signed-note verifier key (name+hash+base64): {e}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use ed25519_dalek::SigningKey;
    use kelisim_receipt::log::{Cosigner, NoteSigner};

    use crate::config::Config;

    /// The demo config with `tables` after it.
    fn parse(tables: &str) -> Result<Config, String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../demo");
        let demo = std::fs::read_to_string(dir.join("kelisim.toml")).expect("demo config");
        Config::parse(
            &format!("{demo}\n{tables}"),
            Path::new("kelisim.toml"),
            &dir,
        )
        .map_err(|e| e.to_string())
    }

    fn log_key() -> String {
        NoteSigner::new("log.test/log", SigningKey::from_bytes(&[1; 32]))
            .expect("key")
            .verifier_key()
            .to_string()
    }

    fn witness_key() -> String {
        Cosigner::new("witness.test", SigningKey::from_bytes(&[2; 32]))
            .expect("key")
            .verifier_key()
            .to_string()
    }

    #[test]
    fn both_roles_parse_with_keys_as_the_collectors_serve_them() {
        let config = parse(&format!(
            "[log]\nwitness_interval_secs = 3\n[[log.witness]]\nurl = \"https://w.test/v1/witness/\"\nkey = \"{}\"\n\
             [witness]\nname = \"witness.test\"\n[[witness.log]]\norigin = \"log.test/log\"\nkeys = [\"{}\"]\n",
            witness_key(),
            log_key()
        ))
        .expect("valid");
        assert_eq!(config.log.witness_interval.as_secs(), 3);
        assert_eq!(config.log.witnesses[0].url, "https://w.test/v1/witness");
        assert_eq!(config.log.witnesses[0].key.name(), "witness.test");
        let witness = config.witness.expect("a witness");
        assert_eq!(witness.logs[0].origin, "log.test/log");
        let plain = parse("").expect("valid");
        assert!(plain.witness.is_none() && plain.log.witnesses.is_empty());
    }

    #[test]
    fn bad_witness_settings_name_the_key_and_the_fix() {
        let (w, l) = (witness_key(), log_key());
        let cases = [
            (
                format!("[[log.witness]]\nurl = \"w.test\"\nkey = \"{w}\"\n"),
                "`log.witness[0].url`: `w.test` is not an http(s) URL",
            ),
            (
                "[[log.witness]]\nurl = \"https://w.test\"\nkey = \"nonsense\"\n".to_owned(),
                "`log.witness[0].key`: not a signed-note verifier key",
            ),
            (
                format!("[[log.witness]]\nurl = \"https://w.test\"\nkey = \"{l}\"\n"),
                "`log.witness[0].key`: not a witness cosignature key (type 0x04)",
            ),
            (
                format!(
                    "[log]\nwitness_interval_secs = 0\n[[log.witness]]\nurl = \"https://w.test\"\nkey = \"{w}\"\n"
                ),
                "`log.witness_interval_secs`: 0 is out of range",
            ),
            (
                format!(
                    "[witness]\nname = \"a b\"\n[[witness.log]]\norigin = \"log.test/log\"\nkeys = [\"{l}\"]\n"
                ),
                "`witness.name`: `a b` is not a key name",
            ),
            (
                "[witness]\nname = \"witness.test\"\n".to_owned(),
                "`witness.log`: a witness follows at least one log",
            ),
            (
                format!(
                    "[witness]\nname = \"witness.test\"\n[[witness.log]]\norigin = \"other.test/log\"\nkeys = [\"{l}\"]\n"
                ),
                "`witness.log[0].keys[0]`: the key is named `log.test/log`, not the log's origin `other.test/log`",
            ),
        ];
        for (tables, want) in cases {
            let got = parse(&tables).expect_err("refused");
            assert!(got.contains(want), "got: {got}\nwant: {want}");
        }
    }
}

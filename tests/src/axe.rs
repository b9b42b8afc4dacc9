//! Accessibility audits with axe-core (installed by `cargo xtask test`), injected through
//! WebDriver, which is not bound by the page's Content-Security-Policy.

use anyhow::{Context, Result};
use serde_json::Value;
use thirtyfour::WebDriver;

use crate::env_path;

/// Runs axe-core on the elements matching `selector` and returns the serious and critical
/// violations, each as `id: help (targets)`, so a failing assertion says what to fix.
pub async fn serious_violations(driver: &WebDriver, selector: &str) -> Result<Vec<String>> {
    let path = env_path(
        "KELISIM_TEST_AXE",
        ".tools/axe-core/node_modules/axe-core/axe.min.js",
    );
    let source = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read axe-core at {}", path.display()))?;
    driver.execute(&source, vec![]).await?;
    let result = driver
        .execute_async(
            "const [selector, done] = arguments;
             axe.run(selector, { resultTypes: ['violations'] })
                .then(r => done(r.violations), e => done({ error: String(e) }));",
            vec![Value::from(selector)],
        )
        .await?;
    let violations = result.json();
    if let Some(err) = violations.get("error") {
        anyhow::bail!("axe-core failed: {err}");
    }
    let mut found = Vec::new();
    for v in violations
        .as_array()
        .context("axe returns a list of violations")?
    {
        if matches!(v["impact"].as_str(), Some("serious" | "critical")) {
            let targets: Vec<String> = v["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|n| n["target"].to_string())
                .collect();
            found.push(format!(
                "{}: {} ({})",
                v["id"],
                v["help"],
                targets.join(", ")
            ));
        }
    }
    Ok(found)
}

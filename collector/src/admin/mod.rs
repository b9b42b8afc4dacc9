//! What site admins do, without HTTP: bearer tokens, retention and erasure deadlines, the
//! streaming export and its Kantara Consent Receipt form. `web::routes::admin` and `cli`
//! call into it.

pub mod analytics;
pub mod art8;
pub mod export;
pub mod health;
pub mod kantara;
pub mod retention;
pub mod tokens;

use crate::config::{Category, DataUse, Operator, Site};

/// What an export and a Kantara document need to know of a receipt's site.
#[derive(Debug, Clone)]
pub struct SiteInfo {
    pub operator: Operator,
    pub retention_days: u32,
    /// The cookie categories with the services they name (Kantara's third parties).
    pub categories: Vec<Category>,
    /// What the forms collect and who receives it (the form receipts' third parties).
    pub data: DataUse,
}

impl From<&Site> for SiteInfo {
    fn from(site: &Site) -> SiteInfo {
        SiteInfo {
            operator: site.operator.clone(),
            retention_days: site.retention_days,
            categories: site.categories.clone(),
            data: site.data.clone(),
        }
    }
}

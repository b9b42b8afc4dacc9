//! What site admins do, without HTTP: bearer tokens, retention and erasure deadlines, the
//! streaming export and its Kantara Consent Receipt form. `web::routes::admin` and `cli`
//! call into it.

pub mod export;
pub mod kantara;
pub mod retention;
pub mod tokens;

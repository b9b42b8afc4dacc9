//! How a route table is written once and used twice: registered on actix ([`Register`]) or
//! listed ([`RouteList`]) for the OpenAPI test, which compares the list with
//! `/openapi.json`. Each route is its own resource, whose other methods get a problem+json 405.

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, HttpRequest, HttpResponse, Responder, web};

use crate::web::error::ApiError;

/// Where routes go: the real app ([`Register`]) or a list ([`RouteList`]).
pub trait RouteSink {
    fn add<F, Args>(&mut self, method: Method, path: &'static str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static;
}

/// Registers each route as its own resource, whose other methods get a problem+json 405.
pub struct Register<'a>(pub &'a mut web::ServiceConfig);

impl RouteSink for Register<'_> {
    fn add<F, Args>(&mut self, method: Method, path: &'static str, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.0
            .service(resource(path).route(web::method(method).to(handler)));
    }
}

/// Records `(method, full path)` of each route; `{name:regex}` segments become `{name}`.
#[derive(Debug, Default)]
pub struct RouteList {
    pub prefix: &'static str,
    pub routes: Vec<(Method, String)>,
}

impl RouteSink for RouteList {
    fn add<F, Args>(&mut self, method: Method, path: &'static str, _handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.routes
            .push((method, openapi_path(&format!("{}{path}", self.prefix))));
    }
}

/// `/{file:kelisim\.[0-9a-f]{16}\.js}` → `/{file}`: the OpenAPI spelling of a path pattern.
pub fn openapi_path(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut depth = 0usize;
    let mut skipping = false;
    for c in pattern.chars() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    out.push(c);
                }
            }
            '}' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    skipping = false;
                    out.push(c);
                }
            }
            ':' if depth == 1 => skipping = true,
            _ if skipping || depth > 1 => {}
            _ => out.push(c),
        }
    }
    out
}

/// A resource whose other methods get a problem+json 405.
pub fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// Any path without a route.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "no such resource: {} {}",
        req.method(),
        req.path()
    )))
}

/// A known path with a method it does not support.
pub async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(req.method().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns_are_spelled_as_openapi_paths() {
        assert_eq!(
            openapi_path(r"/{file:kelisim\.[0-9a-f]{16}\.(?:js|wasm|css)}"),
            "/{file}"
        );
        assert_eq!(
            openapi_path("/v1/receipts/{id}/withdraw"),
            "/v1/receipts/{id}/withdraw"
        );
        assert_eq!(openapi_path("/healthz"), "/healthz");
    }
}

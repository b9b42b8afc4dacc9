//! The HTTP side: the actix app and its route table, middleware, the problem+json error,
//! the admin extractor, rate and connection limits, the widget's files, the HTML pages, the
//! handlers (`routes`) and the server's signal handling.

pub mod app;
pub mod assets;
pub mod auth;
pub mod compress;
pub mod connections;
pub mod demo;
pub mod error;
pub mod html;
pub mod middleware;
pub mod negotiate;
pub mod openapi;
pub mod pages;
pub mod ratelimit;
pub mod reload;
pub mod routes;
pub mod routing;
pub mod server;
pub mod sites;
pub mod state;

//! A recording stand-in for the loader's transport, for the browser tests.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;

use super::Host;

/// One `post(url, body, key)` call.
#[derive(Debug, Clone)]
pub struct Post {
    pub url: String,
    pub body: String,
    pub key: String,
}

pub type Posts = Rc<RefCell<Vec<Post>>>;

/// One `consent(granted, update)` call: the ids, and `update` as JSON (`null` before any
/// choice).
pub type Consents = Rc<RefCell<Vec<(Vec<String>, String)>>>;

/// A host whose `post` only records what it was asked to send.
pub fn recording() -> (Host, Posts) {
    let (host, posts, _) = recording_all();
    (host, posts)
}

/// A host that records what it was asked to send and every consent it was told.
pub fn recording_all() -> (Host, Posts, Consents) {
    let posts: Posts = Rc::default();
    let seen = Rc::clone(&posts);
    let post = Closure::<dyn FnMut(String, String, String)>::new(move |url, body, key| {
        seen.borrow_mut().push(Post { url, body, key });
    });
    let consents: Consents = Rc::default();
    let told = Rc::clone(&consents);
    let consent =
        Closure::<dyn FnMut(js_sys::Array, JsValue)>::new(move |granted: js_sys::Array, update| {
            let ids = granted.iter().filter_map(|id| id.as_string()).collect();
            let update = js_sys::JSON::stringify(&update)
                .ok()
                .and_then(|s| s.as_string())
                .unwrap_or_default();
            told.borrow_mut().push((ids, update));
        });
    let host = Object::new();
    Reflect::set(&host, &"post".into(), post.as_ref()).expect("set post");
    Reflect::set(&host, &"consent".into(), consent.as_ref()).expect("set consent");
    // The test host lives as long as the test page: leaking its closures is harmless here.
    post.forget();
    consent.forget();
    (host.unchecked_into(), posts, consents)
}

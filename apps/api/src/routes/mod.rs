//! Every route of the API, registered from one table.
//!
//! [`register`] is the single list of routes. It runs twice: against the
//! actix app (to serve them) and against a recorder ([`route_table`]) that
//! tests compare with the OpenAPI document, so a route cannot be served
//! without being documented.

use std::collections::BTreeMap;

use actix_web::{FromRequest, Handler, Responder, Route, http::Method, web};

pub mod api_keys;
pub mod auth;
pub mod health;
pub mod organizations;
pub mod users;

/// One served route: its method and path pattern (`/organizations/{id}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// HTTP method.
    pub method: Method,
    /// Path pattern, with `{param}` placeholders as in OpenAPI.
    pub path: &'static str,
}

/// Collects routes, grouped by path so that a wrong method on a known path
/// answers 405 rather than 404.
#[derive(Default)]
pub struct Router {
    routes: Vec<RouteInfo>,
    resources: BTreeMap<&'static str, Vec<Route>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

impl Router {
    /// Adds a route.
    pub fn route<F, Args>(&mut self, method: Method, path: &'static str, handler: F) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.routes.push(RouteInfo {
            method: method.clone(),
            path,
        });
        self.resources
            .entry(path)
            .or_default()
            .push(web::method(method).to(handler));
        self
    }

    fn mount(self, cfg: &mut web::ServiceConfig) {
        for (path, routes) in self.resources {
            let mut resource = web::resource(path);
            for route in routes {
                resource = resource.route(route);
            }
            cfg.service(resource);
        }
    }
}

/// The list of every route the API serves.
pub fn register(r: &mut Router) {
    r.route(Method::GET, "/health", health::health)
        .route(Method::GET, "/ready", health::ready)
        .route(Method::GET, "/openapi.json", health::openapi);

    r.route(Method::GET, "/organizations", organizations::list)
        .route(Method::POST, "/organizations", organizations::create)
        .route(Method::GET, "/organizations/{id}", organizations::get)
        .route(Method::PUT, "/organizations/{id}", organizations::update)
        .route(Method::DELETE, "/organizations/{id}", organizations::delete)
        .route(
            Method::GET,
            "/organizations/{id}/stats",
            organizations::stats,
        )
        .route(
            Method::POST,
            "/organizations/{id}/activate",
            organizations::activate,
        );

    r.route(Method::POST, "/auth/register", auth::register)
        .route(Method::POST, "/auth/login", auth::login)
        .route(Method::POST, "/auth/refresh", auth::refresh)
        .route(Method::POST, "/auth/logout", auth::logout)
        .route(Method::GET, "/auth/me", auth::me);

    r.route(Method::GET, "/users", users::list)
        .route(Method::POST, "/users", users::create)
        .route(Method::GET, "/users/{id}", users::get)
        .route(Method::PUT, "/users/{id}", users::update)
        .route(Method::DELETE, "/users/{id}", users::deactivate);

    r.route(Method::GET, "/api-keys", api_keys::list)
        .route(Method::POST, "/api-keys", api_keys::create)
        .route(Method::DELETE, "/api-keys/{id}", api_keys::revoke)
        .route(Method::POST, "/api-keys/{id}/rotate", api_keys::rotate);
}

/// Mounts every route on an actix app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let mut router = Router::default();
    register(&mut router);
    router.mount(cfg);
}

/// Every route the API serves, in registration order.
pub fn route_table() -> Vec<RouteInfo> {
    let mut router = Router::default();
    register(&mut router);
    router.routes
}

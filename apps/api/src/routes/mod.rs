//! Every route of the API, registered from one table.
//!
//! [`register`] is the single list of routes. It runs twice: against the
//! actix app (to serve them) and against a recorder ([`route_table`]) that
//! tests compare with the OpenAPI document, so a route cannot be served
//! without being documented.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::{FromRequest, Handler, Responder, Route, http::Method, web};

pub mod agents;
pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod dashboard;
pub mod health;
pub mod leads;
pub mod leads_csv;
pub mod lifecycle;
pub mod organizations;
pub mod proposals;
pub mod routing;
pub mod users;
pub mod webhooks;

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
    /// Paths served under [`crate::startup::long_deadline`].
    long: BTreeSet<&'static str>,
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

    /// Adds a route that may run for long (a large upload): it gets
    /// [`crate::startup::long_deadline`] instead of the request timeout. Its
    /// path should have no other, ordinary route.
    pub fn long_route<F, Args>(
        &mut self,
        method: Method,
        path: &'static str,
        handler: F,
    ) -> &mut Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.long.insert(path);
        self.route(method, path, handler)
    }

    fn mount(self, cfg: &mut web::ServiceConfig) {
        for (path, routes) in self.resources {
            let mut resource = web::resource(path);
            for route in routes {
                resource = resource.route(route);
            }
            if self.long.contains(path) {
                cfg.service(resource.wrap(actix_web::middleware::from_fn(
                    crate::startup::long_deadline,
                )));
            } else {
                cfg.service(
                    resource.wrap(actix_web::middleware::from_fn(crate::startup::deadline)),
                );
            }
        }
    }
}

/// The list of every route the API serves.
pub fn register(r: &mut Router) {
    r.route(Method::GET, "/health", health::health)
        .route(Method::GET, "/ready", health::ready)
        .route(Method::GET, "/openapi.json", health::openapi)
        .route(Method::GET, "/metrics", health::metrics);

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

    r.route(Method::GET, "/agents", agents::list)
        .route(Method::POST, "/agents", agents::create)
        .route(Method::GET, "/agents/{id}", agents::get)
        .route(Method::PUT, "/agents/{id}", agents::update)
        .route(Method::DELETE, "/agents/{id}", agents::deactivate)
        .route(
            Method::POST,
            "/agents/{id}/reroute-open-leads",
            lifecycle::reroute_agent_leads,
        );

    r.route(Method::GET, "/routing/pools", routing::list_pools)
        .route(Method::POST, "/routing/pools", routing::create_pool)
        .route(Method::GET, "/routing/pools/{id}", routing::get_pool)
        .route(Method::PUT, "/routing/pools/{id}", routing::update_pool)
        .route(Method::DELETE, "/routing/pools/{id}", routing::delete_pool)
        .route(Method::GET, "/routing/rules", routing::list_rules)
        .route(Method::POST, "/routing/rules", routing::create_rule)
        .route(Method::GET, "/routing/rules/{id}", routing::get_rule)
        .route(Method::PUT, "/routing/rules/{id}", routing::update_rule)
        .route(Method::DELETE, "/routing/rules/{id}", routing::delete_rule)
        .route(Method::POST, "/routing/simulate", routing::simulate);

    r.route(Method::GET, "/leads", leads::list)
        .route(Method::POST, "/leads", leads::create)
        .route(Method::POST, "/leads/batch", leads::create_batch)
        .long_route(Method::POST, "/leads/import", leads_csv::import)
        .route(Method::GET, "/leads/export", leads_csv::export)
        .route(Method::GET, "/leads/{id}", leads::get)
        .route(Method::PUT, "/leads/{id}", leads::update)
        .route(Method::GET, "/leads/{id}/timeline", audit::timeline)
        .route(Method::POST, "/leads/{id}/accept", lifecycle::accept)
        .route(Method::POST, "/leads/{id}/decline", lifecycle::decline)
        .route(Method::POST, "/leads/{id}/assign", lifecycle::assign)
        .route(Method::POST, "/leads/{id}/reroute", lifecycle::reroute);

    r.route(Method::GET, "/audit", audit::list);

    r.route(Method::GET, "/webhooks", webhooks::list)
        .route(Method::POST, "/webhooks", webhooks::create)
        .route(Method::GET, "/webhooks/{id}", webhooks::get)
        .route(Method::PUT, "/webhooks/{id}", webhooks::update)
        .route(Method::DELETE, "/webhooks/{id}", webhooks::delete)
        .route(
            Method::POST,
            "/webhooks/{id}/rotate-secret",
            webhooks::rotate_secret,
        )
        .route(Method::POST, "/webhooks/{id}/test", webhooks::test)
        .route(
            Method::GET,
            "/webhooks/{id}/deliveries",
            webhooks::deliveries,
        );

    r.route(Method::GET, "/manager/proposals", proposals::list)
        .route(Method::GET, "/manager/proposals/{id}", proposals::get)
        .route(
            Method::POST,
            "/manager/proposals/{id}/approve",
            proposals::approve,
        )
        .route(
            Method::POST,
            "/manager/proposals/{id}/reject",
            proposals::reject,
        );

    r.route(Method::GET, "/dashboard", dashboard::dashboard)
        .route(
            Method::GET,
            "/dashboard/leads-per-agent",
            dashboard::leads_per_agent,
        );
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

//! The Lead Routing HTTP server: configuration, the tenant-scoping middleware,
//! routes, error mapping and the command line. Business rules live in the
//! domain crates; this crate extracts, calls and maps.

// The package denies unsafe code so that the binary may call `mallopt`
// (src/main.rs); the library has no reason to.
#![forbid(unsafe_code)]

pub mod admin;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod envelope;
pub mod error;
pub mod examples;
pub mod extract;
pub mod observability;
pub mod openapi;
pub mod password_pool;
pub mod proxy;
pub mod ratelimit;
pub mod routes;
pub mod scheduler;
pub mod seed;
pub mod services;
pub mod startup;
pub mod strict_json;
pub mod telemetry;
pub mod webhook_sender;

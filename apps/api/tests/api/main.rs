//! The integration suite: each test starts the real server on a random port
//! with a fresh database (a SQLite file, or a PostgreSQL database of its own
//! when `TEST_DATABASE_URL` is set) and speaks HTTP to it.

// A failed unwrap is a failed test, with its location: what tests want.
#![allow(clippy::unwrap_used)]

mod admin;
mod audit;
mod auth;
mod batch;
mod binary;
mod cli;
mod crash;
mod csv;
mod dashboard;
mod hardening;
mod health;
mod helpers;
mod isolation;
mod lifecycle;
mod observability;
mod openapi;
mod organizations;
mod receiver;
mod rls;
mod roles;
mod routing;
mod webhooks;

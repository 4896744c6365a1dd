//! integrity-exchange: the node every county, city, province and the nation deploys to exchange
//! government-integrity and public-credit records. See ARCHITECTURE.md for the codemap.

pub mod admin;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod bench_federation;
pub mod bench_gateway;
pub mod bench_match;
pub mod config;
pub mod demo;
pub mod domain;
pub mod error;
pub mod federation;
pub mod gateway;
pub mod matching;
pub mod state;
pub mod store;
pub mod telemetry;

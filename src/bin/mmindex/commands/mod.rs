//! One file per command group.

pub mod admin;
pub mod ingest;
pub mod query;

//! File formats.
pub mod native;

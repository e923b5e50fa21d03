//! The children's social care layer: data, and (to come) the England model,
//! its calibration and its indicators. It uses the engine like any other
//! crate would.

pub mod data;

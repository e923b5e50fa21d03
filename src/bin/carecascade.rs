//! The carecascade command line.
fn main() {}

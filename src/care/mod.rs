//! The children's social care layer: the England model, the published
//! statistics it is calibrated to, and its indicators by reporting year. It
//! uses the engine like any other crate would.
//!
//! ```
//! use carecascade::care;
//!
//! let model = care::england();
//! let projection = care::project::project(&model, 2023, 5)?;
//! let cla = projection.column("cla_at_31_march").unwrap();
//! assert_eq!(projection.years(), [2023, 2024, 2025, 2026, 2027, 2028]);
//! assert!(cla.iter().flatten().all(|&v| v > 50_000.0 && v < 150_000.0));
//! # Ok::<(), carecascade::Error>(())
//! ```

pub mod calibrate;
pub mod data;
pub mod local;
pub mod project;
pub mod validate;

use crate::error::Result;
use crate::model::Model;
use std::path::Path;

/// The England model's file, as shipped in `models/england.toml`.
pub const ENGLAND_TOML: &str = include_str!("../../models/england.toml");

/// The names of the models built into the crate.
pub const BUILTIN_MODELS: &[&str] = &["england"];

/// The England children's social care model (`models/england.toml`,
/// embedded in the crate), with its calibrated parameters.
pub fn england() -> Model {
    crate::format::native::parse(ENGLAND_TOML, Some("models/england.toml"))
        .expect("the embedded England model is valid (checked by the test suite)")
}

/// A built-in model by name (`england`), or `None`.
pub fn builtin(name: &str) -> Option<Model> {
    match crate::name::canonical_name(name).as_str() {
        "england" => Some(england()),
        _ => None,
    }
}

/// Loads a model from a file, or a built-in model by name when no file of
/// that name exists (`england`).
///
/// # Errors
///
/// As [`crate::format::load_model`]; a name that is neither a file nor a
/// built-in model is an [`crate::Error::Io`] error listing the built-in
/// models when the name has no extension.
pub fn load_model(name_or_path: impl AsRef<Path>) -> Result<Model> {
    let path = name_or_path.as_ref();
    if !path.exists() && path.extension().is_none() {
        if let Some(model) = path.to_str().and_then(builtin) {
            return Ok(model);
        }
        return Err(crate::Error::Invalid {
            what: path.display().to_string(),
            message: format!(
                "no such file, and not a built-in model (built in: {}){}",
                BUILTIN_MODELS.join(", "),
                crate::name::did_you_mean(crate::name::closest(
                    &path.display().to_string(),
                    BUILTIN_MODELS.iter().copied()
                ))
            ),
        });
    }
    crate::format::load_model(path)
}

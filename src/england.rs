//! The England model as a built-in model, and its scenario profile: what a
//! scenario on the England model (or on a local authority's model made from
//! it) reports unless it says otherwise.

use crate::engine::scenario::{
    CompareSpec, Library, OutputSpec, ReportSpec, ScalarSpec, ScenarioFile, TimeSpec,
};
use crate::engine::{Model, Result};
use crate::project::INDICATORS;
use std::path::Path;

/// The England model's file, as shipped in `models/england.toml`.
pub const ENGLAND_TOML: &str = include_str!("../models/england.toml");

/// What the England model is calibrated to and how, as shipped in
/// `models/england.calibrate.toml`: the report charts every series it fits.
pub const ENGLAND_CALIBRATION_TOML: &str = include_str!("../models/england.calibrate.toml");

/// The published series the England model is fitted to (the `[series]` of
/// [`ENGLAND_CALIBRATION_TOML`]), in the spec's order.
pub fn fitted_series() -> Result<Vec<String>> {
    let spec = crate::calibrate::CalibrationSpec::parse(
        ENGLAND_CALIBRATION_TOML,
        Some("models/england.calibrate.toml"),
    )?;
    Ok(spec.series.keys().cloned().collect())
}

/// The England model's name (its `[model] name`), by which the report
/// recognises it without parsing it again.
pub const ENGLAND_NAME: &str = "england";

/// The names of the models built into the crate.
pub const BUILTIN_MODELS: &[&str] = &["england"];

/// The discount rate for net present values (HM Treasury Green Book).
pub const DISCOUNT_RATE: f64 = 0.035;

/// The indicators a scenario reports when it does not say.
pub const DEFAULT_INDICATORS: &[&str] = &[
    "referrals",
    "cin_at_31_march",
    "cpp_started",
    "cpp_at_31_march",
    "cla_started",
    "cla_at_31_march",
    "caseload",
    "social_worker_fte",
    "early_help_children",
    "spend_early_help_m",
    "spend_safeguarding_m",
    "spend_looked_after_m",
    "spend_total_m",
];

/// The per-run scalars of a scenario on the England model, in the order of
/// `runs.csv`: spend over the horizon (£m), its net present value at the
/// Green Book rate (the first year undiscounted), children entering care
/// over the horizon, and the highest caseload at any step.
pub const SCALARS: &[&str] = &[
    "cumulative_cost_m",
    "npv_m",
    "entered_care",
    "peak_caseload",
];

/// The England children's social care model (`models/england.toml`,
/// embedded in the crate), with its calibrated parameters.
pub fn england() -> Model {
    crate::engine::format::native::parse(ENGLAND_TOML, Some("models/england.toml"))
        .expect("the embedded England model is valid (checked by the test suite)")
}

/// A built-in model by name (`england`), or `None`.
pub fn builtin(name: &str) -> Option<Model> {
    match crate::engine::canonical_name(name).as_str() {
        "england" => Some(england()),
        _ => None,
    }
}

/// The `england` profile: reporting years ending 31 March from 2023 for ten
/// years at a weekly step, DfE's indicators ([`INDICATORS`]) reporting
/// [`DEFAULT_INDICATORS`], the [`SCALARS`], and comparisons of total spend
/// (discounted at [`DISCOUNT_RATE`]) and of entries to care.
pub fn profile() -> ScenarioFile {
    let scalar = |indicator: Option<&str>, variable: Option<&str>, reduce: &str, rate| ScalarSpec {
        indicator: indicator.map(str::to_string),
        variable: variable.map(str::to_string),
        reduce: reduce.into(),
        rate,
    };
    ScenarioFile {
        time: Some(TimeSpec {
            start: Some(2023.0),
            horizon: Some(10),
            dt: Some(toml::Value::String("1/52".into())),
            period: Some(1.0),
            offset: Some(0.25),
            label: Some("year".into()),
        }),
        // Per-element outputs are named after their variable, their columns
        // after DfE's (`cla_age_0_to_4`, `cla_foster`).
        outputs: INDICATORS
            .iter()
            .map(|i| {
                let name = if i.per_element {
                    crate::engine::projection::snake_case(i.variable)
                } else {
                    i.column.to_string()
                };
                (
                    name,
                    OutputSpec {
                        variable: i.variable.into(),
                        measure: Some(i.measure.as_str().into()),
                        per_element: Some(i.per_element),
                        prefix: i.per_element.then(|| i.column.to_string()),
                        doc: Some(i.doc.into()),
                    },
                )
            })
            .collect(),
        report: Some(ReportSpec {
            indicators: Some(DEFAULT_INDICATORS.iter().map(|s| s.to_string()).collect()),
            quantiles: None,
            scalars: [
                (SCALARS[0], scalar(Some("spend_total_m"), None, "sum", None)),
                (
                    SCALARS[1],
                    scalar(
                        Some("spend_total_m"),
                        None,
                        "discounted",
                        Some(DISCOUNT_RATE),
                    ),
                ),
                (SCALARS[2], scalar(Some("cla_started"), None, "sum", None)),
                (SCALARS[3], scalar(None, Some("caseload"), "max", None)),
            ]
            .into_iter()
            .map(|(n, s)| (n.to_string(), s))
            .collect(),
        }),
        compare: Some(CompareSpec {
            cost: Some("spend_total_m".into()),
            discount_rate: Some(DISCOUNT_RATE),
            cumulative: Some(vec!["cla_started".into()]),
        }),
        ..ScenarioFile::default()
    }
}

/// The library of scenario files: the built-in `england` model (the default
/// when a scenario names none) and the `england` profile.
pub fn library() -> Library {
    Library::new()
        .with_model("england", || Ok(england()), Some("england"))
        .with_profile("england", profile())
        .with_default_model("england")
}

/// Loads a model from a file, or a built-in model by name when no file of
/// that name exists (`england`).
///
/// # Errors
///
/// As [`crate::engine::format::load_model`]; a name that is neither a file
/// nor a built-in model is an [`crate::Error::Invalid`] listing the built-in
/// models.
pub fn load_model(name_or_path: impl AsRef<Path>) -> Result<Model> {
    library().load_model(name_or_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_england_model_is_named_england_name() {
        assert_eq!(england().name(), ENGLAND_NAME);
    }

    #[test]
    fn the_profile_keeps_every_indicator() {
        assert_eq!(profile().outputs.len(), INDICATORS.len());
    }
}

//! Policies: changes to a model's constants over time (a step, a ramp, a
//! pulse or a series of points), added to the constant or multiplying it,
//! applied by making the constant vary.

use super::file::PolicySpec;
use crate::error::Result;
use crate::model::Model;
use crate::name::{canonical_name, closest, did_you_mean};
use indexmap::IndexMap;

/// How a policy combines with the constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Effect {
    /// constant + policy.
    Add,
    /// constant x (1 + policy).
    Multiply,
}

/// The shape of a policy over time.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PolicyShape {
    /// `value` from `start` until `end`.
    Step {
        /// Start.
        start: f64,
        /// End (exclusive).
        end: f64,
        /// Size.
        value: f64,
    },
    /// Rising linearly from 0 at `start` to `value` after `years`, until `end`.
    Ramp {
        /// Start.
        start: f64,
        /// Time to full size.
        years: f64,
        /// End (exclusive).
        end: f64,
        /// Size.
        value: f64,
    },
    /// `value` for `years` from `start`.
    Pulse {
        /// Start.
        start: f64,
        /// Duration.
        years: f64,
        /// Size.
        value: f64,
    },
    /// Linear between (time, value) points, held beyond them.
    Series {
        /// The points.
        points: Vec<(f64, f64)>,
    },
}

impl PolicyShape {
    /// When the policy first has an effect.
    pub fn start(&self) -> f64 {
        match self {
            PolicyShape::Step { start, .. }
            | PolicyShape::Ramp { start, .. }
            | PolicyShape::Pulse { start, .. } => *start,
            PolicyShape::Series { points } => points.first().map_or(f64::NEG_INFINITY, |p| p.0),
        }
    }
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    parameter: String,
    shape: PolicyShape,
    effect: Effect,
}

impl Policy {
    /// The policy with its size multiplied by `factor` if it adds to the
    /// constant (a policy that multiplies the constant is relative and
    /// stays as it is).
    pub(crate) fn scaled(&self, factor: f64) -> Policy {
        let mut p = self.clone();
        if p.effect == Effect::Add {
            match &mut p.shape {
                PolicyShape::Step { value, .. }
                | PolicyShape::Ramp { value, .. }
                | PolicyShape::Pulse { value, .. } => *value *= factor,
                PolicyShape::Series { points } => {
                    for (_, v) in points {
                        *v *= factor;
                    }
                }
            }
        }
        p
    }

    /// The constant it changes.
    pub fn parameter(&self) -> &str {
        &self.parameter
    }

    /// Its shape over time.
    pub fn shape(&self) -> &PolicyShape {
        &self.shape
    }

    /// How it combines with the constant.
    pub fn effect(&self) -> Effect {
        self.effect
    }
}

impl TryFrom<&PolicySpec> for Policy {
    type Error = String;

    /// Validates a policy as written; the message names the field.
    fn try_from(p: &PolicySpec) -> std::result::Result<Policy, String> {
        let need = |name: &str, v: Option<f64>| -> std::result::Result<f64, String> {
            match v {
                Some(v) if v.is_finite() => Ok(v),
                Some(v) => Err(format!("`{name}` must be finite, not {v}")),
                None => Err(format!("a `{}` policy needs `{name}`", p.kind)),
            }
        };
        let end = p.end.unwrap_or(1e9);
        let shape = match p.kind.trim() {
            "step" => PolicyShape::Step {
                start: need("start", p.start)?,
                end,
                value: need("value", p.value)?,
            },
            "ramp" => {
                let years = need("years", p.years)?;
                if years <= 0.0 {
                    return Err(format!("`years` must be > 0, not {years}"));
                }
                PolicyShape::Ramp {
                    start: need("start", p.start)?,
                    years,
                    end,
                    value: need("value", p.value)?,
                }
            }
            "pulse" => PolicyShape::Pulse {
                start: need("start", p.start)?,
                years: need("years", p.years)?,
                value: need("value", p.value)?,
            },
            "series" => {
                let points = p.points.clone().ok_or("a `series` policy needs `points`")?;
                if points.is_empty()
                    || points.windows(2).any(|w| w[1].0 <= w[0].0)
                    || points.iter().any(|(t, v)| !t.is_finite() || !v.is_finite())
                {
                    return Err(
                        "`points` must be finite (time, value) pairs with increasing times".into(),
                    );
                }
                PolicyShape::Series { points }
            }
            other => {
                return Err(format!(
                    "kind `{other}` is not one of step, ramp, pulse, series{}",
                    did_you_mean(closest(other, ["step", "ramp", "pulse", "series"]))
                ));
            }
        };
        let effect = match p.effect.as_deref().map(str::trim) {
            None | Some("add") => Effect::Add,
            Some("multiply") => Effect::Multiply,
            Some(other) => {
                return Err(format!(
                    "effect `{other}` is not `add` or `multiply`{}",
                    did_you_mean(closest(other, ["add", "multiply"]))
                ));
            }
        };
        Ok(Policy {
            parameter: p.parameter.clone(),
            shape,
            effect,
        })
    }
}

/// The policies of a scenario grouped by the constant they change
/// (canonical name), in the order first written.
pub(crate) type Groups<'a> = IndexMap<String, Vec<&'a Policy>>;

/// Groups policies by the constant they change.
pub(crate) fn group(policies: &[Policy]) -> Groups<'_> {
    let mut groups: Groups<'_> = IndexMap::new();
    for p in policies {
        groups
            .entry(canonical_name(&p.parameter))
            .or_default()
            .push(p);
    }
    groups
}

/// Applies policies to a model: each constant a policy changes becomes a
/// variable equal to `NAME before policies` (which keeps the constant's
/// value) combined with every policy on it in turn.
pub(crate) fn apply(mut model: Model, groups: &Groups<'_>) -> Result<Model> {
    for (k, (_, group)) in groups.iter().enumerate() {
        let name = &group[0].parameter;
        let base = format!("{name} before policies");
        let mut equation = format!("\"{base}\"");
        for (j, p) in group.iter().enumerate() {
            let signal = match &p.shape {
                PolicyShape::Step { start, end, value } => {
                    format!("IF TIME >= {start:?} AND TIME < {end:?} THEN {value:?} ELSE 0")
                }
                PolicyShape::Ramp {
                    start,
                    years,
                    end,
                    value,
                } => format!(
                    "{value:?} * MIN(1, MAX(0, (TIME - {start:?}) / {years:?})) * (TIME < {end:?})"
                ),
                PolicyShape::Pulse {
                    start,
                    years,
                    value,
                } => format!(
                    "IF TIME >= {start:?} AND TIME < {:?} THEN {value:?} ELSE 0",
                    start + years
                ),
                PolicyShape::Series { points } => {
                    let lookup = format!("{name} policy {k} {j}");
                    model = model.with_lookup(&lookup, points, "A scenario's policy series.")?;
                    format!("\"{lookup}\"(TIME)")
                }
            };
            equation = match p.effect {
                Effect::Add => format!("{equation} + ({signal})"),
                Effect::Multiply => format!("{equation} * (1 + ({signal}))"),
            };
        }
        model = model.with_constant_varying(name, &base, &equation)?;
    }
    Ok(model)
}

/// A parameter changed by a policy keeps its value in `NAME before policies`.
pub(crate) fn redirect(name: &str, groups: &Groups<'_>) -> String {
    match groups.get(&canonical_name(name)) {
        Some(group) => format!("{} before policies", group[0].parameter),
        None => name.to_string(),
    }
}

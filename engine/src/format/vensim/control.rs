//! The control section: `INITIAL TIME`, `FINAL TIME`, `TIME STEP` and
//! `SAVEPER`, numbers or expressions of numbers and each other, become the
//! time settings, and the units of `TIME STEP` the time units.

use super::{Def, Reader, Rhs};
use crate::error::Error;
use crate::expr::{Expr, ExprKind, UnaryOp};
use crate::model::{ControlVariables, TimeSettings};
use crate::name::canonical_name;
use std::collections::HashMap;

impl Reader<'_> {
    /// The time settings from the control variables, and the time units.
    ///
    /// A control variable that is not an expression of numbers and other
    /// control variables (`FINAL TIME = IF THEN ELSE(x > 50, Time, 100)`)
    /// is computed during the run: it is returned as a definition of an
    /// auxiliary, named in the [`ControlVariables`], and the time settings
    /// hold its value at the start where that is known without running
    /// the model.
    pub(super) fn time_settings(
        &mut self,
        controls: &[Def],
        defs: &[Def],
    ) -> Option<(TimeSettings, Option<String>, Vec<Def>, ControlVariables)> {
        let mut values: HashMap<String, f64> = defs
            .iter()
            .filter(|d| d.subscripts.is_empty())
            .filter_map(|d| match d.rhs {
                Rhs::Number(v) => Some((canonical_name(&d.name), v)),
                _ => None,
            })
            .collect();
        // Controls may refer to each other (`SAVEPER = TIME STEP`): settle
        // them in as many passes as there are.
        let mut pending: Vec<&Def> = controls.iter().collect();
        for _ in 0..=controls.len() {
            pending.retain(|d| {
                let value = match &d.rhs {
                    Rhs::Number(v) => Some(*v),
                    Rhs::Expression(s) => crate::expr::parse(&s.text)
                        .ok()
                        .and_then(|e| evaluate(&e, &values)),
                    _ => None,
                };
                match value {
                    Some(v) => {
                        values.insert(canonical_name(&d.name), v);
                        false
                    }
                    None => true,
                }
            });
        }
        // The others change during the run: each becomes an auxiliary,
        // and its value at the start, where the numbers say it, stands in
        // the time settings.
        let mut dynamic = Vec::new();
        let mut control = ControlVariables::default();
        let mut start_values = values.clone();
        start_values.insert("time".into(), 0.0);
        let mut order: Vec<&Def> = pending.clone();
        order.sort_by_key(|d| canonical_name(&d.name) != "initial_time");
        for d in order {
            if !matches!(d.rhs, Rhs::Expression(_)) || !d.subscripts.is_empty() {
                self.errors.push(Error::File {
                    location: d.location.clone(),
                    message: format!(
                        "`{}` must be a number or an expression (of `Time`, numbers and other variables)",
                        d.name
                    ),
                });
                continue;
            }
            let key = canonical_name(&d.name);
            let at_start = match &d.rhs {
                Rhs::Expression(s) => crate::expr::parse(&s.text)
                    .ok()
                    .and_then(|e| evaluate(&e, &start_values)),
                _ => None,
            };
            if let Some(v) = at_start {
                start_values.insert(key.clone(), v);
                if key == "initial_time" {
                    start_values.insert("time".into(), v);
                }
            }
            let slot = match key.as_str() {
                "initial_time" => &mut control.initial_time,
                "final_time" => &mut control.final_time,
                "time_step" => &mut control.time_step,
                _ => &mut control.saveper,
            };
            *slot = Some(d.name.clone());
            dynamic.push(d.clone());
        }
        if !dynamic.is_empty() {
            for (key, fallback) in [("initial_time", 0.0), ("time_step", 1.0)] {
                if !values.contains_key(key) {
                    values.insert(
                        key.into(),
                        start_values.get(key).copied().unwrap_or(fallback),
                    );
                }
            }
            let start = values["initial_time"];
            let dt = values["time_step"];
            if !values.contains_key("final_time") {
                let stop = start_values
                    .get("final_time")
                    .copied()
                    .filter(|&v| v >= start)
                    .unwrap_or(start + dt);
                values.insert("final_time".into(), stop);
            }
            if !values.contains_key("saveper") {
                values.insert(
                    "saveper".into(),
                    start_values.get("saveper").copied().unwrap_or(dt),
                );
            }
        }
        let get = |key: &str| values.get(key).copied();
        let at = |key: &str| {
            controls
                .iter()
                .find(|d| canonical_name(&d.name) == key)
                .map(|d| d.location.clone())
        };
        let mut missing = Vec::new();
        for (key, name) in [
            ("initial_time", "INITIAL TIME"),
            ("final_time", "FINAL TIME"),
            ("time_step", "TIME STEP"),
        ] {
            if at(key).is_some() && get(key).is_none() {
                return None; // already reported
            }
            if get(key).is_none() {
                missing.push(name);
            }
        }
        if !missing.is_empty() {
            self.push_error(
                0,
                format!(
                    "the model has no {}: a Vensim model sets INITIAL TIME, FINAL TIME and TIME STEP",
                    missing.join(", ")
                ),
            );
            return None;
        }
        let (start, stop, dt) = (get("initial_time")?, get("final_time")?, get("time_step")?);
        let located = |key: &str, e: Error| match at(key) {
            Some(location) => Error::File {
                location,
                message: e.to_string(),
            },
            None => e,
        };
        let time = match TimeSettings::new(start, stop, dt) {
            Ok(t) => t,
            Err(e) => {
                self.errors.push(located("time_step", e));
                return None;
            }
        };
        let time = match get("saveper") {
            // Vensim saves only at computed steps: a SAVEPER that is not a
            // whole number of TIME STEPs saves at the nearest whole number
            // of steps (at least one), which is said.
            Some(save) if save.is_finite() && save > 0.0 => {
                let steps = (save / dt).round().max(1.0);
                let rounded = steps * dt;
                let saved = if (rounded - save).abs() > 1e-9 * save.abs().max(dt) {
                    if let Some(location) = at("saveper") {
                        self.warn(
                            "SAVEPER",
                            location,
                            format!(
                                "SAVEPER {save} is not a whole number of TIME STEPs ({dt}): results are saved every {steps} step(s), every {rounded}, as Vensim saves only at computed steps"
                            ),
                        );
                    }
                    rounded
                } else {
                    save
                };
                match time.with_save_interval(saved) {
                    Ok(t) => t,
                    Err(e) => {
                        self.errors.push(located("saveper", e));
                        return None;
                    }
                }
            }
            Some(save) => match time.with_save_interval(save) {
                Ok(t) => t,
                Err(e) => {
                    self.errors.push(located("saveper", e));
                    return None;
                }
            },
            None => time,
        };
        let units = controls
            .iter()
            .find(|d| canonical_name(&d.name) == "time_step")
            .and_then(|d| d.units.clone());
        Some((time, units, dynamic, control))
    }
}

/// The value of an expression of numbers and known names.
fn evaluate(e: &Expr, values: &HashMap<String, f64>) -> Option<f64> {
    use crate::expr::BinaryOp;
    match &e.kind {
        ExprKind::Number(v) => Some(*v),
        ExprKind::Name(n) => values.get(&canonical_name(n)).copied(),
        ExprKind::Unary(UnaryOp::Neg, a) => Some(-evaluate(a, values)?),
        ExprKind::Unary(UnaryOp::Plus, a) => evaluate(a, values),
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (evaluate(a, values)?, evaluate(b, values)?);
            match op {
                BinaryOp::Add => Some(a + b),
                BinaryOp::Sub => Some(a - b),
                BinaryOp::Mul => Some(a * b),
                BinaryOp::Div => Some(a / b),
                BinaryOp::Pow => Some(a.powf(b)),
                BinaryOp::Lt => Some(f64::from(a < b)),
                BinaryOp::Le => Some(f64::from(a <= b)),
                BinaryOp::Gt => Some(f64::from(a > b)),
                BinaryOp::Ge => Some(f64::from(a >= b)),
                BinaryOp::Eq => Some(f64::from(a == b)),
                BinaryOp::Ne => Some(f64::from(a != b)),
                _ => None,
            }
        }
        ExprKind::If(c, a, b) => {
            if evaluate(c, values)? != 0.0 {
                evaluate(a, values)
            } else {
                evaluate(b, values)
            }
        }
        _ => None,
    }
    .filter(|v| v.is_finite())
}

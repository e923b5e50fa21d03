//! Simulation time settings and integration methods.

use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;

/// The integration method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Method {
    /// Euler's method, the default in Vensim and Stella.
    #[default]
    Euler,
    /// The classical fourth-order Runge-Kutta method.
    Rk4,
}

impl Method {
    /// The name used in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Euler => "euler",
            Method::Rk4 => "rk4",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = Error;

    fn from_str(s: &str) -> Result<Method> {
        match s.trim().to_ascii_lowercase().as_str() {
            "euler" => Ok(Method::Euler),
            "rk4" | "runge-kutta" | "runge_kutta_4" => Ok(Method::Rk4),
            _ => Err(Error::Invalid {
                what: "integration method".into(),
                message: format!("`{s}` is not a method; expected `euler` or `rk4`"),
            }),
        }
    }
}

/// When a simulation starts and stops, its step, how often it saves and how it
/// integrates. Validated on construction: `dt > 0`, `stop >= start`, the save
/// interval a whole number of steps.
///
/// ```
/// use carecascade_engine::{Method, TimeSettings};
/// let time = TimeSettings::new(2013.0, 2033.0, 1.0 / 52.0)?
///     .with_save_interval(1.0)?
///     .with_method(Method::Rk4);
/// assert_eq!(time.steps(), 1040);
/// assert_eq!(time.save_every(), 52);
/// # Ok::<(), carecascade_engine::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeSettings {
    start: f64,
    stop: f64,
    dt: f64,
    save_interval: f64,
    method: Method,
}

/// A number for a message: very small or large ones in scientific
/// notation rather than with hundreds of digits.
fn short(v: f64) -> String {
    if v != 0.0 && !(1e-6..1e12).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// The most integration steps a run may take (100 million): more is almost
/// always a mistyped dt, and is refused before anything is allocated.
pub const MAX_STEPS: u64 = 100_000_000;

impl TimeSettings {
    /// Time settings saving every step, with Euler integration.
    ///
    /// # Errors
    ///
    /// [`Error::Time`] unless all values are finite, `dt > 0`, `stop >=
    /// start` and the run takes at most [`MAX_STEPS`] steps.
    pub fn new(start: f64, stop: f64, dt: f64) -> Result<TimeSettings> {
        if !start.is_finite() || !stop.is_finite() {
            return Err(Error::Time(format!(
                "start ({start}) and stop ({stop}) must be finite numbers"
            )));
        }
        if !(dt.is_finite() && dt > 0.0) {
            return Err(Error::Time(format!(
                "dt must be a positive number, not {dt}"
            )));
        }
        if stop < start {
            return Err(Error::Time(format!(
                "stop ({stop}) is before start ({start})"
            )));
        }
        // -0 is 0: otherwise the first time is -0 in one back end and 0
        // in the other, which computes it as start + 0 * dt.
        let (start, stop) = (start + 0.0, stop + 0.0);
        let steps = (stop - start) / dt;
        if steps > MAX_STEPS as f64 {
            return Err(Error::Time(format!(
                "dt {} from {start} to {stop} would take {steps:.3e} steps, more than the limit of {MAX_STEPS} (100 million): use a larger dt or a shorter run",
                short(dt)
            )));
        }
        Ok(TimeSettings {
            start,
            stop,
            dt,
            save_interval: dt,
            method: Method::Euler,
        })
    }

    /// Sets how often results are saved.
    ///
    /// # Errors
    ///
    /// [`Error::Time`] unless the interval is a positive whole multiple of dt.
    pub fn with_save_interval(mut self, save_interval: f64) -> Result<TimeSettings> {
        if !(save_interval.is_finite() && save_interval > 0.0) {
            return Err(Error::Time(format!(
                "save interval must be a positive number, not {save_interval}"
            )));
        }
        let ratio = save_interval / self.dt;
        if ratio < 1.0 - 1e-9 || (ratio - ratio.round()).abs() > 1e-6 * ratio.max(1.0) {
            return Err(Error::Time(format!(
                "save interval {save_interval} is not a whole number of steps of dt {}",
                self.dt
            )));
        }
        self.save_interval = save_interval;
        Ok(self)
    }

    /// Sets the integration method.
    pub fn with_method(mut self, method: Method) -> TimeSettings {
        self.method = method;
        self
    }

    /// Changes dt, keeping the save interval if it is still a whole number of
    /// steps, and saving every step if the old settings did.
    ///
    /// # Errors
    ///
    /// [`Error::Time`] as for [`TimeSettings::new`] and
    /// [`TimeSettings::with_save_interval`].
    pub fn with_dt(self, dt: f64) -> Result<TimeSettings> {
        let saved_every_step = self.save_every() == 1;
        let changed = TimeSettings::new(self.start, self.stop, dt)?.with_method(self.method);
        if saved_every_step {
            Ok(changed)
        } else {
            changed.with_save_interval(self.save_interval)
        }
    }

    /// Changes the stop time.
    ///
    /// # Errors
    ///
    /// [`Error::Time`] as for [`TimeSettings::new`].
    pub fn with_stop(self, stop: f64) -> Result<TimeSettings> {
        TimeSettings::new(self.start, stop, self.dt)?
            .with_method(self.method)
            .with_save_interval(self.save_interval)
    }

    /// Changes the start time.
    ///
    /// # Errors
    ///
    /// [`Error::Time`] as for [`TimeSettings::new`].
    pub fn with_start(self, start: f64) -> Result<TimeSettings> {
        TimeSettings::new(start, self.stop, self.dt)?
            .with_method(self.method)
            .with_save_interval(self.save_interval)
    }

    /// The start time (`INITIAL TIME`).
    pub fn start(&self) -> f64 {
        self.start
    }

    /// The stop time (`FINAL TIME`).
    pub fn stop(&self) -> f64 {
        self.stop
    }

    /// The integration step (`TIME STEP`, `DT`).
    pub fn dt(&self) -> f64 {
        self.dt
    }

    /// The save interval (`SAVEPER`).
    pub fn save_interval(&self) -> f64 {
        self.save_interval
    }

    /// The integration method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The number of integration steps from start to stop. When dt does not
    /// divide the horizon, the run ends at the last step before stop.
    pub fn steps(&self) -> usize {
        ((self.stop - self.start) / self.dt + 1e-6).floor() as usize
    }

    /// Results are saved every this many steps (and at the last step).
    pub fn save_every(&self) -> usize {
        ((self.save_interval / self.dt).round() as usize).max(1)
    }

    /// The number of saved time points.
    pub fn saved_points(&self) -> usize {
        let steps = self.steps();
        let every = self.save_every();
        steps / every + 1 + usize::from(!steps.is_multiple_of(every))
    }

    /// The time at step `k`.
    pub fn time_at(&self, step: usize) -> f64 {
        self.start + step as f64 * self.dt
    }
}

/// A number or a fraction as model and scenario files write time steps:
/// `"0.25"`, `"1/52"`. `None` for anything else, or a result that is not
/// finite.
///
/// ```
/// use carecascade_engine::model::parse_fraction;
/// assert_eq!(parse_fraction(" 1 / 4 "), Some(0.25));
/// assert_eq!(parse_fraction("0.5"), Some(0.5));
/// assert_eq!(parse_fraction("1/0"), None);
/// assert_eq!(parse_fraction("weekly"), None);
/// ```
pub fn parse_fraction(text: &str) -> Option<f64> {
    let value = match text.split_once('/') {
        Some((a, b)) => a.trim().parse::<f64>().ok()? / b.trim().parse::<f64>().ok()?,
        None => text.trim().parse::<f64>().ok()?,
    };
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(TimeSettings::new(0.0, 10.0, 0.0).is_err());
        assert!(TimeSettings::new(0.0, -1.0, 1.0).is_err());
        assert!(TimeSettings::new(0.0, f64::NAN, 1.0).is_err());
        let t = TimeSettings::new(0.0, 10.0, 0.25).unwrap();
        assert!(t.with_save_interval(0.3).is_err());
        assert!(t.with_save_interval(0.1).is_err());
        assert_eq!(t.with_save_interval(1.0).unwrap().save_every(), 4);
    }

    #[test]
    fn saved_points_include_the_last_step() {
        let t = TimeSettings::new(0.0, 10.0, 1.0).unwrap();
        assert_eq!(t.saved_points(), 11);
        let t = t.with_save_interval(3.0).unwrap();
        assert_eq!(t.saved_points(), 5); // 0 3 6 9 10
        let t = TimeSettings::new(0.0, 1.0, 0.3).unwrap();
        assert_eq!(t.steps(), 3);
    }
}

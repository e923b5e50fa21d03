//! Running a compiled [`Program`]: per-run [`State`], the Euler and RK4
//! integrators, and [`Results`].
//!
//! ```
//! use carecascade::{Model, Program};
//! use carecascade::build::{Constant, Flow, Stock};
//!
//! let model = Model::builder("decay")
//!     .add(Stock::new("x", "100").outflow("loss"))
//!     .add(Flow::new("loss", "x * rate"))
//!     .add(Constant::new("rate", 0.1))
//!     .build()?;
//! let program = Program::compile(&model)?;
//! let mut state = program.state();
//! state.set("rate", 0.2)?; // no recompiling
//! let results = state.run()?;
//! assert!(results.final_value("x").unwrap() < 1.0);
//! # Ok::<(), carecascade::Error>(())
//! ```

pub(crate) mod ops;
mod results;

pub(crate) use results::Columns;
pub use results::Results;

use crate::compile::{ParamId, Program};
use crate::error::{Error, Result};
use crate::model::{Method, TimeSettings};
use ndarray::Array2;
use ops::{Code, Rings, exec};

/// The buffers of one run: slots, parameter values, time settings and
/// integrator scratch space. Reuse one `State` for many runs of a program to
/// avoid reallocating; set parameters between runs without recompiling.
#[derive(Debug, Clone)]
pub struct State<'p> {
    program: &'p Program,
    slots: Vec<f64>,
    params: Vec<f64>,
    time: TimeSettings,
    rings: Rings,
    stock_start: Vec<f64>,
    flow_sum: Vec<f64>,
}

impl Program {
    /// A fresh run state with the model's parameters and time settings.
    pub fn state(&self) -> State<'_> {
        State {
            program: self,
            slots: self.base_slots.clone(),
            params: self.params.iter().map(|p| p.default).collect(),
            time: self.time,
            rings: Rings::default(),
            stock_start: vec![0.0; self.stocks.len()],
            flow_sum: vec![0.0; self.flows.len()],
        }
    }

    /// Runs the program once with its defaults.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] if a variable becomes NaN or infinite.
    pub fn run(&self) -> Result<Results> {
        self.state().run()
    }
}

impl<'p> State<'p> {
    /// The program this state runs.
    pub fn program(&self) -> &'p Program {
        self.program
    }

    /// Sets a parameter by name for the following runs.
    ///
    /// # Errors
    ///
    /// [`Error::Parameter`] if the model has no such constant (with the
    /// closest name); [`Error::Invalid`] if the value is not finite.
    pub fn set(&mut self, name: &str, value: f64) -> Result<()> {
        let id = self.program.parameter(name)?;
        self.set_param(id, value)
    }

    /// Sets a parameter found with [`Program::parameter`].
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] if the value is not finite.
    pub fn set_param(&mut self, id: ParamId, value: f64) -> Result<()> {
        if !value.is_finite() {
            return Err(Error::Invalid {
                what: format!("value for `{}`", self.program.params[id.0].name),
                message: format!("expected a finite number, not {value}"),
            });
        }
        self.params[id.0] = value;
        Ok(())
    }

    /// The current value of a parameter.
    pub fn param(&self, id: ParamId) -> f64 {
        self.params[id.0]
    }

    /// Restores every parameter to the model's value.
    pub fn reset_params(&mut self) {
        for (value, p) in self.params.iter_mut().zip(&self.program.params) {
            *value = p.default;
        }
    }

    /// Changes the time settings for the following runs.
    pub fn set_time(&mut self, time: TimeSettings) {
        self.time = time;
    }

    /// The time settings used by the next run.
    pub fn time(&self) -> &TimeSettings {
        &self.time
    }

    /// Runs the model from its initial values and returns every output at
    /// every save time.
    ///
    /// # Errors
    ///
    /// [`Error::NonFinite`] naming the first variable that became NaN or
    /// infinite and when; [`Error::Invalid`] if the results would not fit in
    /// memory.
    pub fn run(&mut self) -> Result<Results> {
        let program = self.program;
        let points = self.time.saved_points();
        let width = program.outputs.len();
        // A tiny dt with saving every step can ask for more memory than the
        // machine has: say so instead of aborting.
        let mut values = Vec::new();
        let mut times = Vec::new();
        let too_big = |_| Error::Invalid {
            what: "time settings".into(),
            message: format!(
                "saving {width} variables at {points} times needs more memory than is available; save less often (a larger save interval) or shorten the run"
            ),
        };
        points.checked_mul(width).ok_or(()).map_err(too_big)?;
        values
            .try_reserve_exact(points * width)
            .map_err(|_| too_big(()))?;
        times.try_reserve_exact(points).map_err(|_| too_big(()))?;
        self.simulate(&mut |time: f64, slots: &[f64]| {
            times.push(time);
            values.extend_from_slice(&slots[program.outputs.clone()]);
        })?;
        let values = Array2::from_shape_vec((times.len(), width), values)
            .expect("one row of every output per saved time");
        Ok(Results::new(
            program.columns.clone(),
            times,
            values,
            self.time,
        ))
    }

    /// Runs the model and hands each save time's outputs to `observe`
    /// instead of storing them: `observe(time, row)` where `row` holds one
    /// value per [`Program::output_names`]. Use it to reduce a run as it
    /// goes (a yearly total, a peak) with memory that does not grow with
    /// the number of steps.
    ///
    /// ```
    /// # use carecascade::{Model, Program};
    /// # use carecascade::build::{Flow, Stock};
    /// # let model = Model::builder("m").add(Stock::new("x", "1").inflow("f")).add(Flow::new("f", "1")).build()?;
    /// let program = Program::compile(&model)?;
    /// let x = program.output_index("x").unwrap();
    /// let mut peak = f64::NEG_INFINITY;
    /// program.state().run_observing(&mut |_, row| peak = peak.max(row[x]))?;
    /// assert_eq!(peak, 101.0);
    /// # Ok::<(), carecascade::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`State::run`].
    pub fn run_observing(&mut self, observe: &mut impl FnMut(f64, &[f64])) -> Result<()> {
        let outputs = self.program.outputs.clone();
        self.simulate(&mut |time: f64, slots: &[f64]| observe(time, &slots[outputs.clone()]))
    }

    /// Runs compiled operations over this run's slots.
    #[inline]
    fn exec(&mut self, code: &Code) {
        exec(code, &mut self.slots, &self.program.tables, &self.rings);
    }

    fn initialise(&mut self) -> Result<()> {
        let program = self.program;
        self.slots.copy_from_slice(&program.base_slots);
        for (p, &value) in program.params.iter().zip(&self.params) {
            self.slots[p.slot as usize] = value;
        }
        let time = self.time;
        self.slots[ops::TIME] = time.start();
        self.slots[ops::DT] = time.dt();
        self.slots[ops::INITIAL_TIME] = time.start();
        self.slots[ops::FINAL_TIME] = time.stop();
        self.slots[ops::SAVE_INTERVAL] = time.save_interval();
        self.exec(&program.init_ops);
        self.check_finite(time.start())?;

        // DELAY FIXED: one slot per step of delay, filled with the initial value.
        self.rings.data.clear();
        self.rings.rings.clear();
        for ring in &program.rings {
            let delay = self.slots[ring.delay as usize];
            let steps = (delay / time.dt()).round();
            if !(0.0..1e8).contains(&steps) {
                return Err(Error::Invalid {
                    what: "DELAY FIXED delay time".into(),
                    message: format!(
                        "expected a non-negative number of at most 1e8 steps, got {delay}"
                    ),
                });
            }
            // A delay shorter than one step is one step: the output never
            // depends on the input of the same step.
            let len = (steps as usize).max(1);
            let start = self.rings.data.len();
            let initial = self.slots[ring.initial as usize];
            self.rings.data.resize(start + len, initial);
            self.rings.rings.push((start, len, 0));
        }
        Ok(())
    }

    fn simulate(&mut self, record: &mut impl FnMut(f64, &[f64])) -> Result<()> {
        self.initialise()?;
        let program = self.program;
        let time = self.time;
        let steps = time.steps();
        let every = time.save_every();
        let dt = time.dt();
        let mut until_save = 0;
        // Limiting sits between the flows and the net flows of stocks under
        // Euler; otherwise one pass evaluates both.
        let limit = time.method() == Method::Euler && !program.non_negative.is_empty();
        for step in 0..=steps {
            let t = time.time_at(step);
            self.slots[ops::TIME] = t;
            if limit {
                self.exec(&program.step_ops);
                self.limit_outflows(dt);
                self.exec(&program.derivative_ops);
            } else {
                self.exec(&program.fused_ops);
            }
            self.check_finite(t)?;
            if until_save == 0 || step == steps {
                record(t, &self.slots);
                until_save = every;
            }
            until_save -= 1;
            if step == steps {
                break;
            }
            for (i, ring) in program.rings.iter().enumerate() {
                let input = self.slots[ring.input as usize];
                self.rings.push(i, input);
            }
            match time.method() {
                Method::Euler => self.integrate(dt),
                Method::Rk4 => self.rk4_step(t, dt),
            }
        }
        Ok(())
    }

    /// `stock += dt * net flow`, with the net flows in their slots.
    #[inline]
    fn integrate(&mut self, dt: f64) {
        let program = self.program;
        let (head, tail) = self.slots.split_at_mut(program.derivatives);
        let stocks = &mut head[program.integrated.clone()];
        for (stock, derivative) in stocks.iter_mut().zip(&tail[..program.integrated.len()]) {
            *stock += dt * derivative;
        }
        for &i in &program.non_negative {
            // Only rounding can leave a limited stock below zero.
            let slot = program.stocks[i].slot as usize;
            if self.slots[slot] < 0.0 {
                self.slots[slot] = 0.0;
            }
        }
    }

    /// Scales down the outflows of non-negative stocks so that none removes
    /// more than the stock holds plus what flows in during the step.
    ///
    /// A flow reduced for one stock is reduced for every stock it connects,
    /// so the proportional passes repeat until nothing changes. Loops of
    /// flows among nearly empty stocks can converge only geometrically; if
    /// the passes have not settled, a last pass counts only supply that no
    /// limit can reduce, which is safe for every stock at once.
    fn limit_outflows(&mut self, dt: f64) {
        const PASSES: usize = 16;
        let program = self.program;
        if program.non_negative.is_empty() {
            return;
        }
        let slots = &mut self.slots;
        let terms = &program.flow_terms;
        for pass in 0..=PASSES {
            let certain_only = pass == PASSES;
            let mut changed = false;
            for &i in &program.non_negative {
                let stock = program.stocks[i];
                let inflows = &terms[stock.first_in as usize..stock.first_out as usize];
                let outflows = &terms[stock.first_out as usize..stock.end as usize];
                let counts = |f: u32| !certain_only || program.limited.binary_search(&f).is_err();
                // Supply: positive inflows and negative outflows; demand: the rest.
                let (mut supply, mut demand) = (0.0, 0.0);
                for &f in inflows {
                    let v = slots[f as usize];
                    if v < 0.0 {
                        demand -= v;
                    } else if counts(f) {
                        supply += v;
                    }
                }
                for &f in outflows {
                    let v = slots[f as usize];
                    if v > 0.0 {
                        demand += v;
                    } else if counts(f) {
                        supply -= v;
                    }
                }
                let available = slots[stock.slot as usize] + dt * supply;
                if demand > 0.0 && dt * demand > available {
                    let scale = (available / (dt * demand)).max(0.0);
                    for &f in inflows {
                        if slots[f as usize] < 0.0 {
                            slots[f as usize] *= scale;
                        }
                    }
                    for &f in outflows {
                        if slots[f as usize] > 0.0 {
                            slots[f as usize] *= scale;
                        }
                    }
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// One classical Runge-Kutta step. The flows of the four stages are
    /// averaged with weights 1, 2, 2, 1 and the stocks advanced with the
    /// average, so that every stock still balances its flows exactly and
    /// non-negative stocks are limited as under Euler.
    fn rk4_step(&mut self, t: f64, dt: f64) {
        let program = self.program;
        self.stock_start
            .copy_from_slice(&self.slots[program.integrated.clone()]);
        for (sum, &f) in self.flow_sum.iter_mut().zip(&program.flows) {
            *sum = self.slots[f as usize];
        }
        for (stage_time, weight, advance) in [
            (t + dt / 2.0, 2.0, dt / 2.0),
            (t + dt / 2.0, 2.0, dt / 2.0),
            (t + dt, 1.0, dt),
        ] {
            // Stocks at this stage: start + advance * (net flows of the last stage).
            self.advance_from_start(advance);
            self.slots[ops::TIME] = stage_time;
            self.exec(&program.fused_ops);
            for (sum, &f) in self.flow_sum.iter_mut().zip(&program.flows) {
                *sum += weight * self.slots[f as usize];
            }
        }
        for (sum, &f) in self.flow_sum.iter().zip(&program.flows) {
            self.slots[f as usize] = sum / 6.0;
        }
        self.restore_stocks();
        if !program.non_negative.is_empty() {
            self.limit_outflows(dt);
        }
        self.exec(&program.derivative_ops);
        self.integrate(dt);
    }

    fn restore_stocks(&mut self) {
        let range = self.program.integrated.clone();
        self.slots[range].copy_from_slice(&self.stock_start);
    }

    /// Sets the stocks to their values at the start of the step plus
    /// `advance` times the net flows now in the derivative slots.
    fn advance_from_start(&mut self, advance: f64) {
        let program = self.program;
        let (head, tail) = self.slots.split_at_mut(program.derivatives);
        let stocks = &mut head[program.integrated.clone()];
        for ((stock, start), derivative) in stocks
            .iter_mut()
            .zip(&self.stock_start)
            .zip(&tail[..program.integrated.len()])
        {
            *stock = start + advance * derivative;
        }
    }

    /// Stops the run at the first NaN or infinity, naming the variable.
    #[inline(always)]
    fn check_finite(&self, time: f64) -> Result<()> {
        let region = &self.slots[self.program.checked.clone()];
        // A value is NaN or infinite when its exponent bits are all ones. An
        // OR of independent integer tests vectorises; a float sum would be
        // a chain of dependent additions.
        const EXPONENT: u64 = 0x7ff0_0000_0000_0000;
        let bad = region.iter().fold(0u64, |acc, x| {
            acc | u64::from(x.to_bits() & EXPONENT == EXPONENT)
        });
        if bad == 0 {
            return Ok(());
        }
        for (slot, name) in &self.program.check_order {
            let value = self.slots[*slot as usize];
            if !value.is_finite() {
                let hint = if value.is_nan() {
                    "check for 0/0, the square root or logarithm of a negative number, or inf - inf"
                } else {
                    "check for division by zero, or a stock growing without bound (try a smaller dt)"
                };
                return Err(Error::NonFinite {
                    variable: name.clone(),
                    time,
                    value,
                    hint: hint.into(),
                });
            }
        }
        Ok(())
    }
}

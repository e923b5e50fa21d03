//! Runs kept on disk instead of in memory, so that an ensemble's memory
//! does not grow with its runs.
//!
//! A [`Spill`] is an anonymous temporary file (deleted when the last
//! handle goes) holding one scenario's runs in blocks of consecutive runs.
//! Within a block the numbers are stored column by column: every run's
//! value of indicator 0 in period 0, then period 1, ..., then the scalars,
//! then the draws, each column as the block's runs in order, as the exact
//! bits of the `f64`. Reading a column (one indicator in one period, over
//! every run) reads one stretch of each block: the numbers come back
//! exactly as computed, in run order, so every statistic taken of them is
//! the one taken of runs held in memory.

use super::RunOutput;
use crate::error::{Error, Result};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::sync::Mutex;

/// One scenario's runs on disk (see the module's documentation).
#[derive(Debug)]
pub struct Spill {
    file: Mutex<std::fs::File>,
    /// Values per run (indicators x periods).
    values: usize,
    /// Scalars per run.
    scalars: usize,
    /// Draws per run.
    draws: usize,
    /// (byte offset, runs, first run's index) of each block, in run order.
    blocks: Vec<(u64, usize, usize)>,
    /// Bytes written.
    end: u64,
}

fn io_error(e: std::io::Error) -> Error {
    Error::io(std::env::temp_dir(), e)
}

impl Spill {
    /// An empty spill for runs of `values` values (indicators x periods),
    /// `scalars` scalars and `draws` draws, in a new anonymous temporary
    /// file.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be made.
    pub fn new(values: usize, scalars: usize, draws: usize) -> Result<Spill> {
        Ok(Spill {
            file: Mutex::new(tempfile::tempfile().map_err(io_error)?),
            values,
            scalars,
            draws,
            blocks: Vec::new(),
            end: 0,
        })
    }

    fn columns(&self) -> usize {
        self.values + self.scalars + self.draws
    }

    /// The runs stored.
    pub fn runs(&self) -> usize {
        self.blocks.iter().map(|(_, n, _)| n).sum()
    }

    /// Appends consecutive runs as one block.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for a run of another shape; [`Error::Io`] if the
    /// file cannot be written.
    pub fn push(&mut self, runs: &[RunOutput]) -> Result<()> {
        if runs.is_empty() {
            return Ok(());
        }
        let first = runs[0].run;
        let next = self.blocks.last().map(|(_, n, f)| f + n);
        if let Some(k) = (0..runs.len())
            .find(|&k| runs[k].run != first + k)
            .or((next.is_some_and(|next| next != first)).then_some(0))
        {
            return Err(Error::Invalid {
                what: format!("run {}", runs[k].run),
                message: "runs are kept on disk in order, without gaps".into(),
            });
        }
        if let Some(r) = runs.iter().find(|r| {
            r.values.len() * r.values.periods() != self.values
                || r.scalars.len() != self.scalars
                || r.draws.len() != self.draws
        }) {
            return Err(Error::Invalid {
                what: format!("run {}", r.run),
                message: "does not have the values, scalars and draws of the ensemble's other runs"
                    .into(),
            });
        }
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.seek(SeekFrom::Start(self.end)).map_err(io_error)?;
        let mut out = BufWriter::with_capacity(64 << 10, &mut *file);
        let mut write = |v: f64| out.write_all(&v.to_le_bytes());
        for c in 0..self.values {
            for r in runs {
                let periods = r.values.periods();
                write(r.values[c / periods][c % periods]).map_err(io_error)?;
            }
        }
        for k in 0..self.scalars {
            for r in runs {
                write(r.scalars[k]).map_err(io_error)?;
            }
        }
        for k in 0..self.draws {
            for r in runs {
                write(r.draws[k]).map_err(io_error)?;
            }
        }
        out.flush().map_err(io_error)?;
        drop(out);
        self.blocks.push((self.end, runs.len(), first));
        self.end += (runs.len() * self.columns() * 8) as u64;
        Ok(())
    }

    /// Column `c` over every run, in run order: value `c` (indicator
    /// `c / periods`, period `c % periods`), then the scalars from
    /// `values` (the draws follow; [`Spill::each_run`] reads them).
    fn column(&self, c: usize) -> Result<Vec<f64>> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::with_capacity(self.runs());
        let mut bytes = Vec::new();
        for &(offset, n, _) in &self.blocks {
            bytes.resize(n * 8, 0);
            file.seek(SeekFrom::Start(offset + (c * n * 8) as u64))
                .map_err(io_error)?;
            file.read_exact(&mut bytes).map_err(io_error)?;
            out.extend(
                bytes
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8]))),
            );
        }
        Ok(out)
    }

    /// Calls `f` with each run's index, draws and scalars, in run order,
    /// reading one block at a time.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read; `f`'s error.
    pub fn each_run(&self, f: &mut super::EachRun<'_>) -> Result<()> {
        let (s, d) = (self.scalars, self.draws);
        let mut bytes = Vec::new();
        let (mut draws, mut scalars) = (vec![0.0; d], vec![0.0; s]);
        for &(offset, n, first) in &self.blocks {
            bytes.resize(n * (s + d) * 8, 0);
            {
                let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
                file.seek(SeekFrom::Start(offset + (self.values * n * 8) as u64))
                    .map_err(io_error)?;
                file.read_exact(&mut bytes).map_err(io_error)?;
            }
            let at = |c: usize, r: usize| {
                let k = 8 * (c * n + r);
                f64::from_le_bytes(bytes[k..k + 8].try_into().unwrap_or([0; 8]))
            };
            for r in 0..n {
                for (k, v) in scalars.iter_mut().enumerate() {
                    *v = at(k, r);
                }
                for (k, v) in draws.iter_mut().enumerate() {
                    *v = at(s + k, r);
                }
                f(first + r, &draws, &scalars)?;
            }
        }
        Ok(())
    }

    /// Every run's value of indicator `i` in period `y` (of `periods`).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read.
    pub fn values(&self, i: usize, y: usize, periods: usize) -> Result<Vec<f64>> {
        self.column(i * periods + y)
    }

    /// Every run's scalar `k`.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be read.
    pub fn scalars(&self, k: usize) -> Result<Vec<f64>> {
        self.column(self.values + k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ensemble::PeriodValues;

    fn run(k: usize) -> RunOutput {
        let x = k as f64;
        RunOutput {
            run: k,
            draws: vec![x + 0.5],
            values: PeriodValues::from_rows(vec![vec![f64::NAN, x], vec![-x, x * 3.0]]).unwrap(),
            scalars: vec![x * 7.0, -0.0],
        }
    }

    #[test]
    fn columns_come_back_exactly_in_run_order_across_blocks() {
        let runs: Vec<RunOutput> = (0..11).map(run).collect();
        let mut spill = Spill::new(4, 2, 1).unwrap();
        spill.push(&runs[..4]).unwrap();
        spill.push(&runs[4..5]).unwrap();
        spill.push(&[]).unwrap();
        spill.push(&runs[5..]).unwrap();
        assert_eq!(spill.runs(), 11);
        let bits = |v: Vec<f64>| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for i in 0..2 {
            for y in 0..2 {
                let want: Vec<f64> = runs.iter().map(|r| r.values[i][y]).collect();
                assert_eq!(bits(spill.values(i, y, 2).unwrap()), bits(want));
            }
        }
        for k in 0..2 {
            let want: Vec<f64> = runs.iter().map(|r| r.scalars[k]).collect();
            assert_eq!(bits(spill.scalars(k).unwrap()), bits(want));
        }
        let mut seen = Vec::new();
        spill
            .each_run(&mut |run, draws, scalars| {
                seen.push((run, draws.to_vec(), scalars.to_vec()));
                Ok(())
            })
            .unwrap();
        assert_eq!(seen.len(), 11);
        for (r, (run, draws, scalars)) in runs.iter().zip(&seen) {
            assert_eq!((r.run, &r.draws), (*run, draws));
            assert_eq!(bits(r.scalars.clone()), bits(scalars.clone()));
        }
        let mut gap = run(12);
        gap.run = 12;
        assert!(spill.push(&[gap]).is_err());
        let mut wrong = run(11);
        wrong.scalars.push(1.0);
        assert!(spill.push(&[wrong]).is_err());
    }
}

//! The output columns of a program: the visible variables' display names, in
//! the order of a row of results, and their index by canonical name.

use crate::name::canonical_name;
use std::collections::HashMap;

/// The output columns of a program: display names and their index by
/// canonical name. Built once when compiling and shared by every run's
/// [`Results`](crate::sim::Results), so that a run allocates no names.
#[derive(Debug, PartialEq)]
pub struct Columns {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Columns {
    pub(crate) fn new(names: Vec<String>) -> Columns {
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (canonical_name(n), i))
            .collect();
        Columns { names, index }
    }

    /// The display names, in column order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The column of a variable, in any spelling of its name.
    pub fn get(&self, name: &str) -> Option<usize> {
        self.index.get(&canonical_name(name)).copied()
    }
}

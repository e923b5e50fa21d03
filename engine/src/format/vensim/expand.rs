//! Vensim subscripts beyond whole ranges, read by writing out each element.
//!
//! The model's dimensions are the *families*: the ranges that are not part
//! of a larger one. A subrange (`young: infant, child` inside `age`) is a
//! set of elements of its family; a mapping (`a: x, y -> b`) and an
//! equivalence (`a <-> b`) pair elements by position. A variable ranges
//! over the families of its subscripts.
//!
//! A variable whose equations the engine can take as they are (one
//! equation over whole families, or one per element, referring to other
//! variables by the same families) is left alone. Any other, defined over
//! subranges, in slices (`x[d, e1] = ...`), with `:EXCEPT:`, or whose
//! equation uses a subrange, a mapped range, a range as a value,
//! `ELMCOUNT`, `PROD`, `VMIN`, `VMAX` or a sum over a subrange, becomes one
//! equation per element, each written with the elements it stands for:
//! `pop[young] = births[young]` becomes `pop[infant] = births[infant]` and
//! `pop[child] = births[child]`, and `SUM(x[young!])` becomes
//! `(x[infant] + x[child])`. Elements no equation defines are zero, with a
//! warning.

use super::{Def, Reader, Rhs};
use crate::build::Source;
use crate::error::Error;
use crate::expr::{Expr, ExprKind, IndexKind};
use crate::limits::Limits;
use crate::name::{canonical_name, closest, did_you_mean};
use std::collections::{HashMap, HashSet};

/// Dimensions with their elements, as names.
type Dimensions = Vec<(String, Vec<String>)>;

/// One subscript range as the file defines it.
pub(super) struct Range {
    /// The name as written.
    pub(super) name: String,
    /// The elements as written.
    pub(super) elements: Vec<String>,
    /// The elements' canonical names.
    keys: Vec<String>,
    /// The position of each element (by canonical name).
    positions: HashMap<String, usize>,
    /// The ranges this one maps to, by position (`-> other`).
    mapping: Vec<usize>,
    /// The family: the range (an index into `ranges`) that holds this one
    /// and is part of no larger one; itself for a family.
    family: usize,
}

impl Range {
    /// The position of the element with canonical name `key`.
    fn position(&self, key: &str) -> Option<usize> {
        self.positions.get(key).copied()
    }
}

/// Every range of a file, with its family.
pub(super) struct Ranges {
    pub(super) ranges: Vec<Range>,
    by_name: HashMap<String, usize>,
    /// The families, in the order of the file: the model's dimensions.
    families: Vec<usize>,
    /// The model's variables (canonical names): a name that is an element
    /// and not a variable is the element's value.
    variables: HashSet<String>,
    /// The terms of sums written out so far, against [`MAX_TERMS`].
    terms: std::cell::Cell<usize>,
    /// The element equations written out so far, against [`MAX_WRITTEN`].
    written: std::cell::Cell<usize>,
    /// The equations parsed while writing out, by text.
    parsed: std::cell::RefCell<HashMap<String, Option<std::rc::Rc<Expr>>>>,
}

/// How many terms the sums over ranges of one model may write out.
const MAX_TERMS: usize = 10_000_000;

/// How many element equations one model may have written out (each is
/// written as text and parsed again, some microseconds each: this keeps a
/// model's reading to about a second).
const MAX_WRITTEN: usize = 100_000;

impl Ranges {
    /// Works out each range's family and its mappings; an unknown range
    /// after `->` is an error at `at`.
    pub(super) fn new(
        reader: &mut Reader<'_>,
        resolved: Vec<(String, Vec<String>, Vec<String>, usize)>,
    ) -> Ranges {
        let by_name: HashMap<String, usize> = resolved
            .iter()
            .enumerate()
            .map(|(i, (n, ..))| (canonical_name(n), i))
            .collect();
        let keys_of: Vec<Vec<String>> = resolved
            .iter()
            .map(|(_, e, ..)| e.iter().map(|e| canonical_name(e)).collect())
            .collect();
        let key_sets: Vec<HashSet<&str>> = keys_of
            .iter()
            .map(|keys| keys.iter().map(String::as_str).collect())
            .collect();
        // The ranges that hold each element: a range's larger ranges all
        // hold its first element.
        let mut holding: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, keys) in key_sets.iter().enumerate() {
            for key in keys {
                holding.entry(key).or_default().push(i);
            }
        }
        let mut ranges = Vec::with_capacity(resolved.len());
        for (i, (name, elements, mapping, at)) in resolved.iter().enumerate() {
            // The largest range that holds this one; of ranges with the
            // same elements, the first in the file (as the value of `d`,
            // an element's position is in its family).
            let mut family = i;
            let candidates = keys_of[i]
                .first()
                .and_then(|k| holding.get(k.as_str()))
                .map_or(&[][..], Vec::as_slice);
            for &j in candidates {
                let (size, best) = (key_sets[j].len(), key_sets[family].len());
                let better = size > best || (size == best && j < family);
                if j != i
                    && better
                    && size >= key_sets[i].len()
                    && key_sets[i].iter().all(|e| key_sets[j].contains(e))
                {
                    family = j;
                }
            }
            let mut maps = Vec::new();
            for target in mapping {
                match by_name.get(&canonical_name(target)) {
                    Some(&j) => maps.push(j),
                    None => {
                        let suggestion = closest(target, resolved.iter().map(|(n, ..)| n.as_str()));
                        reader.push_error(
                            *at,
                            format!(
                                "`{name}` maps to `{target}`, which is not a subscript range{}",
                                did_you_mean(suggestion)
                            ),
                        );
                    }
                }
            }
            let keys: Vec<String> = elements.iter().map(|e| canonical_name(e)).collect();
            ranges.push(Range {
                name: name.clone(),
                positions: keys
                    .iter()
                    .enumerate()
                    .map(|(p, k)| (k.clone(), p))
                    .collect(),
                keys,
                elements: elements.clone(),
                mapping: maps,
                family,
            });
        }
        let families = (0..ranges.len())
            .filter(|&i| ranges[i].family == i)
            .collect();
        Ranges {
            ranges,
            by_name,
            families,
            variables: HashSet::new(),
            terms: std::cell::Cell::new(0),
            written: std::cell::Cell::new(0),
            parsed: std::cell::RefCell::new(HashMap::new()),
        }
    }

    /// Tells the ranges the model's variables (canonical names).
    pub(super) fn set_variables(&mut self, variables: HashSet<String>) {
        self.variables = variables;
    }

    /// The element (family, position) `name` is, when it is an element
    /// and not a variable.
    fn element_value(&self, name: &str) -> Option<usize> {
        let key = canonical_name(name);
        if self.variables.contains(&key) || self.by_name.contains_key(&key) {
            return None;
        }
        self.families
            .iter()
            .find_map(|&f| self.ranges[f].position(&key))
    }

    /// The model's dimensions: the families, then the other ranges that
    /// some variable ranges over (`used`), with their elements; and the
    /// position of each of those ranges among them.
    pub(super) fn dimensions<'a>(
        &self,
        used: impl IntoIterator<Item = &'a Vec<usize>>,
    ) -> (Dimensions, HashMap<usize, usize>) {
        let mut order = self.families.clone();
        for dims in used {
            for &d in dims {
                if !order.contains(&d) {
                    order.push(d);
                }
            }
        }
        let positions = order.iter().enumerate().map(|(p, &r)| (r, p)).collect();
        let dimensions = order
            .iter()
            .map(|&i| (self.ranges[i].name.clone(), self.ranges[i].elements.clone()))
            .collect();
        (dimensions, positions)
    }

    /// The range called `name`, if there is one.
    pub(super) fn find(&self, name: &str) -> Option<usize> {
        self.by_name.get(&canonical_name(name)).copied()
    }

    /// The ranges a variable ranges over (indices into the ranges), from
    /// the subscripts of all its definitions: at each position the family
    /// of what is written there, or, where that family is already taken by
    /// an earlier position (`m[dim, sub]` with `sub` part of `dim`), the
    /// smallest other range that holds it. `None` after reporting why not.
    pub(super) fn variable_dimensions(
        &self,
        reader: &mut Reader<'_>,
        defs: &[Def],
    ) -> Option<Vec<usize>> {
        let first = &defs[0];
        let rank = first.subscripts.len();
        for d in defs {
            if d.subscripts.len() != rank {
                reader.errors.push(Error::Model {
                    variable: d.name.clone(),
                    location: Some(d.location.clone()),
                    message: format!(
                        "has {} subscripts here and {rank} elsewhere",
                        d.subscripts.len()
                    ),
                });
                return None;
            }
        }
        // The elements written at each position, and the first range.
        let mut written_at: Vec<(Vec<String>, Option<usize>)> = Vec::with_capacity(rank);
        for k in 0..rank {
            let mut keys: Vec<String> = Vec::new();
            let mut written: Option<usize> = None;
            for d in defs {
                let s = &d.subscripts[k];
                match self.find(s) {
                    Some(r) => {
                        written.get_or_insert(r);
                        keys.extend(self.ranges[r].keys.iter().cloned());
                    }
                    None => {
                        let key = canonical_name(s);
                        if !self.ranges.iter().any(|r| r.positions.contains_key(&key)) {
                            // A suggestion from every element, unless there
                            // are so many, or so many errors already, that
                            // looking would take long.
                            let all: usize = self.ranges.iter().map(|r| r.elements.len()).sum();
                            let suggestion = (all <= 100_000 && reader.errors.len() < 20)
                                .then(|| {
                                    closest(
                                        s,
                                        self.ranges
                                            .iter()
                                            .flat_map(|r| r.elements.iter().map(String::as_str))
                                            .chain(self.ranges.iter().map(|r| r.name.as_str())),
                                    )
                                })
                                .flatten();
                            reader.errors.push(Error::Model {
                                variable: d.name.clone(),
                                location: Some(d.location.clone()),
                                message: format!(
                                    "`{s}` is not an element of any subscript range, nor a range{}",
                                    did_you_mean(suggestion)
                                ),
                            });
                            return None;
                        }
                        keys.push(key);
                    }
                }
            }
            written_at.push((keys, written));
        }
        // Positions where a family itself is written choose first, so that
        // `x[sub, family]` gives `family` to the second position.
        let mut order: Vec<usize> = (0..rank)
            .filter(|&k| written_at[k].1.is_some_and(|r| self.ranges[r].family == r))
            .collect();
        let rest: Vec<usize> = (0..rank).filter(|k| !order.contains(k)).collect();
        order.extend(rest);
        let mut chosen_at: Vec<Option<usize>> = vec![None; rank];
        for k in order {
            let (keys, written) = &written_at[k];
            let taken = |r: usize| chosen_at.contains(&Some(r));
            let holds = |r: usize| {
                keys.iter()
                    .all(|k| self.ranges[r].positions.contains_key(k))
            };
            // The family of the first range written, or of the elements.
            let family = written
                .map(|r| self.ranges[r].family)
                .filter(|&f| holds(f))
                .or_else(|| self.families.iter().copied().find(|&f| holds(f)));
            let chosen = match family {
                Some(f) if !taken(f) => Some(f),
                _ => {
                    // Another range that holds them: the smallest, the
                    // first of equal size.
                    let mut best: Option<usize> = None;
                    for r in 0..self.ranges.len() {
                        if !taken(r)
                            && holds(r)
                            && best.is_none_or(|b| {
                                self.ranges[r].keys.len() < self.ranges[b].keys.len()
                            })
                        {
                            best = Some(r);
                        }
                    }
                    best
                }
            };
            match chosen {
                Some(r) => chosen_at[k] = Some(r),
                None => {
                    reader.errors.push(Error::Model {
                        variable: first.name.clone(),
                        location: Some(first.location.clone()),
                        message: format!(
                            "the subscripts in position {} of its definitions belong to no single subscript range (other than one it already ranges over)",
                            k + 1
                        ),
                    });
                    return None;
                }
            }
        }
        let dims: Vec<usize> = chosen_at.into_iter().flatten().collect();
        Some(dims)
    }

    /// Whether the engine can take these definitions as they are.
    pub(super) fn is_plain(
        &self,
        defs: &[Def],
        dims: &[usize],
        all_dims: &HashMap<String, Vec<usize>>,
    ) -> bool {
        if defs
            .iter()
            .any(|d| !d.except.is_empty() || matches!(d.rhs, Rhs::External(_)))
        {
            return false;
        }
        let whole = defs.len() == 1
            && defs[0]
                .subscripts
                .iter()
                .zip(dims)
                .all(|(s, &d)| self.find(s) == Some(d));
        let elements = defs
            .iter()
            .all(|d| d.subscripts.iter().all(|s| self.find(s).is_none()));
        if !(whole || elements) {
            return false;
        }
        if elements && !dims.is_empty() {
            // Every element defined once.
            let total = dims.iter().fold(1usize, |n, &d| {
                n.saturating_mul(self.ranges[d].elements.len())
            });
            let distinct: HashSet<Vec<String>> = defs
                .iter()
                .map(|d| d.subscripts.iter().map(|s| canonical_name(s)).collect())
                .collect();
            if defs.len() != total || distinct.len() != total {
                return false;
            }
        }
        defs.iter().all(|d| {
            let lhs: Vec<usize> = d.subscripts.iter().filter_map(|s| self.find(s)).collect();
            sources(&d.rhs)
                .iter()
                .all(|s| match crate::expr::parse(&s.text) {
                    Ok(e) => self.plain_expr(&e, &lhs, all_dims),
                    Err(_) => true, // reported by the builder
                })
        })
    }

    fn plain_expr(&self, e: &Expr, lhs: &[usize], all_dims: &HashMap<String, Vec<usize>>) -> bool {
        let mut plain = true;
        e.walk(&mut |node| match &node.kind {
            ExprKind::Name(n) if self.find(n).is_some() || self.element_value(n).is_some() => {
                plain = false
            }
            ExprKind::Call { name, .. }
                if matches!(canonical_name(name).as_str(), "prod" | "vmin" | "vmax") =>
            {
                plain = false
            }
            ExprKind::Subscript { name, indices, .. } => {
                let dims = all_dims.get(&canonical_name(name));
                for (p, index) in indices.iter().enumerate() {
                    let at = dims.and_then(|d| d.get(p)).copied();
                    match &index.kind {
                        IndexKind::Name(n) => {
                            if let Some(r) = self.find(n)
                                && (!lhs.contains(&r) || at != Some(r))
                            {
                                plain = false;
                            }
                        }
                        // Sums are written out: the engine's own sums take
                        // only some forms of Vensim's.
                        IndexKind::All(_) => plain = false,
                        _ => {}
                    }
                }
            }
            _ => {}
        });
        plain
    }

    /// Replaces `ELMCOUNT(range)` by the number of elements in definitions
    /// that are otherwise left as they are.
    pub(super) fn count_elements(&self, defs: &mut [Def]) {
        let count = |s: &mut Source| {
            if !s.text.to_ascii_uppercase().contains("ELMCOUNT") {
                return;
            }
            let Ok(expr) = crate::expr::parse(&s.text) else {
                return;
            };
            let mut edits = Vec::new();
            expr.walk(&mut |e| {
                if let ExprKind::Call { name, args, .. } = &e.kind
                    && canonical_name(name) == "elmcount"
                    && let [arg] = args.as_slice()
                    && let ExprKind::Name(n) = &arg.kind
                    && let Some(r) = self.find(n)
                {
                    edits.push((e.span.clone(), self.ranges[r].keys.len().to_string()));
                }
            });
            edits.sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
            for (span, value) in edits {
                s.text.replace_range(span, &value);
            }
        };
        for d in defs {
            match &mut d.rhs {
                Rhs::Expression(s) => count(s),
                Rhs::Integ { rate, initial } => {
                    count(rate);
                    count(initial);
                }
                Rhs::WithLookup { input, .. } => count(input),
                _ => {}
            }
        }
    }

    /// Writes out the definitions of a variable over dimensions `dims`
    /// element by element.
    pub(super) fn expand(
        &self,
        reader: &mut Reader<'_>,
        defs: &[Def],
        dims: &[usize],
    ) -> Option<Vec<Def>> {
        let first = &defs[0];
        let error = |reader: &mut Reader<'_>, d: &Def, message: String| {
            reader.errors.push(Error::Model {
                variable: d.name.clone(),
                location: Some(d.location.clone()),
                message,
            });
        };
        let total = dims.iter().fold(1u128, |n, &d| {
            n.saturating_mul(self.ranges[d].elements.len() as u128)
        });
        if total > u128::from(Limits::current().elements) {
            error(
                reader,
                first,
                format!(
                    "has {total} elements, more than the limit of {}",
                    Limits::current().elements
                ),
            );
            return None;
        }
        let mut out: Vec<Def> = Vec::new();
        let mut seen: HashSet<Vec<String>> = HashSet::new();
        for d in defs {
            // The elements each position stands for: (range, element index).
            let mut choices: Vec<Vec<(Option<usize>, usize)>> = Vec::new();
            for (k, s) in d.subscripts.iter().enumerate() {
                let family = dims[k];
                match self.find(s) {
                    Some(r) => {
                        let mut here = Vec::new();
                        for key in &self.ranges[r].keys {
                            match self.ranges[family].position(key) {
                                Some(e) => here.push((Some(r), e)),
                                None => {
                                    error(
                                        reader,
                                        d,
                                        format!(
                                            "range `{s}` is not part of `{}`, the range of the other definitions",
                                            self.ranges[family].name
                                        ),
                                    );
                                    return None;
                                }
                            }
                        }
                        choices.push(here);
                    }
                    None => {
                        let key = canonical_name(s);
                        match self.ranges[family].position(&key) {
                            Some(e) => choices.push(vec![(None, e)]),
                            None => {
                                error(
                                    reader,
                                    d,
                                    format!(
                                        "`{s}` is not an element of `{}`",
                                        self.ranges[family].name
                                    ),
                                );
                                return None;
                            }
                        }
                    }
                }
            }
            // The exceptions, as element tuples.
            let mut excluded: HashSet<Vec<usize>> = HashSet::new();
            for list in &d.except {
                if list.len() != d.subscripts.len() {
                    error(
                        reader,
                        d,
                        format!(
                            "`:EXCEPT:` lists {} subscripts for {} positions",
                            list.len(),
                            d.subscripts.len()
                        ),
                    );
                    return None;
                }
                let mut per_position = Vec::new();
                for (k, s) in list.iter().enumerate() {
                    let family = dims[k];
                    let keys: Vec<String> = match self.find(s) {
                        Some(r) => self.ranges[r].keys.clone(),
                        None => vec![canonical_name(s)],
                    };
                    let mut here = Vec::new();
                    for key in keys {
                        match self.ranges[family].position(&key) {
                            Some(e) => here.push(e),
                            None => {
                                error(
                                    reader,
                                    d,
                                    format!(
                                        "`:EXCEPT:` names `{s}`, which is not part of `{}`",
                                        self.ranges[family].name
                                    ),
                                );
                                return None;
                            }
                        }
                    }
                    per_position.push(here);
                }
                for tuple in product(&per_position) {
                    excluded.insert(tuple);
                }
            }
            let count = choices
                .iter()
                .fold(1usize, |n, c| n.saturating_mul(c.len()));
            let written = self.written.get().saturating_add(count);
            if written > MAX_WRITTEN {
                error(
                    reader,
                    d,
                    format!(
                        "writing this equation out element by element ({count} elements) would take the model past {MAX_WRITTEN} written-out element equations, more than the Vensim reader writes out"
                    ),
                );
                return None;
            }
            self.written.set(written);
            let tuples = product(&choices);
            if let Rhs::List(values) = &d.rhs
                && (values.len() != tuples.len() || !excluded.is_empty())
            {
                error(
                    reader,
                    d,
                    format!(
                        "lists {} values for its {} elements",
                        values.len(),
                        tuples.len()
                    ),
                );
                return None;
            }
            for (n, tuple) in tuples.into_iter().enumerate() {
                let elements: Vec<usize> = tuple.iter().map(|(_, e)| *e).collect();
                if excluded.contains(&elements) {
                    continue;
                }
                let bound: Vec<Bound> = tuple
                    .iter()
                    .enumerate()
                    .map(|(k, &(range, e))| Bound {
                        range,
                        dim: dims[k],
                        element: e,
                    })
                    .collect();
                let names: Vec<String> = elements
                    .iter()
                    .enumerate()
                    .map(|(k, &e)| self.ranges[dims[k]].elements[e].clone())
                    .collect();
                let key: Vec<String> = names.iter().map(|n| canonical_name(n)).collect();
                if !seen.insert(key) {
                    error(
                        reader,
                        d,
                        format!("element [{}] is defined twice", names.join(", ")),
                    );
                    return None;
                }
                let scope = Scope {
                    ranges: self,
                    bound,
                };
                let render = |reader: &mut Reader<'_>, s: &Source| -> Option<Source> {
                    match scope.source(s) {
                        Ok(s) => Some(s),
                        Err(message) => {
                            error(reader, d, message);
                            None
                        }
                    }
                };
                let rhs = match &d.rhs {
                    Rhs::Number(v) => Rhs::Number(*v),
                    Rhs::List(values) => Rhs::Number(values[n]),
                    Rhs::Table(points) => Rhs::Table(points.clone()),
                    Rhs::Expression(s) => Rhs::Expression(render(reader, s)?),
                    Rhs::Integ { rate, initial } => Rhs::Integ {
                        rate: render(reader, rate)?,
                        initial: render(reader, initial)?,
                    },
                    Rhs::WithLookup { input, points } => Rhs::WithLookup {
                        input: render(reader, input)?,
                        points: points.clone(),
                    },
                    Rhs::External(external) => {
                        // The element's place along the ranges written on
                        // the left-hand side, in the order written.
                        let mut along = Vec::new();
                        let mut rest = n;
                        let mut places = vec![0usize; choices.len()];
                        for k in (0..choices.len()).rev() {
                            places[k] = rest % choices[k].len();
                            rest /= choices[k].len();
                        }
                        for (k, s) in d.subscripts.iter().enumerate() {
                            if self.find(s).is_some() {
                                along.push(places[k] as u32);
                            }
                        }
                        let read = match external.kind {
                            super::data::Kind::Constants if along.len() <= 2 => reader
                                .external_constant(
                                    external,
                                    (
                                        along.first().copied().unwrap_or(0),
                                        along.get(1).copied().unwrap_or(0),
                                    ),
                                    along.len(),
                                )
                                .map(Rhs::Number),
                            super::data::Kind::Data if along.len() <= 1 => reader
                                .external_series(external, along.first().copied().unwrap_or(0))
                                .map(|points| Rhs::WithLookup {
                                    input: Source::from("TIME"),
                                    points: super::data::data_points(
                                        points,
                                        d.data.unwrap_or(super::data::DataMode::Interpolate),
                                    ),
                                }),
                            super::data::Kind::Lookups if along.len() <= 1 => reader
                                .external_series(external, along.first().copied().unwrap_or(0))
                                .map(Rhs::Table),
                            _ => Err(format!(
                                "external data over {} ranges is not supported: define it one range at a time",
                                along.len()
                            )),
                        };
                        match read {
                            Ok(rhs) => rhs,
                            Err(message) => {
                                error(reader, d, message);
                                return None;
                            }
                        }
                    }
                };
                out.push(Def {
                    name: d.name.clone(),
                    subscripts: names,
                    except: Vec::new(),
                    rhs,
                    data: d.data,
                    units: d.units.clone(),
                    doc: d.doc.clone(),
                    location: d.location.clone(),
                });
            }
        }
        // Elements no equation defines are zero, as in Vensim.
        if (out.len() as u128) < total {
            let all: Vec<Vec<usize>> = dims
                .iter()
                .map(|&d| (0..self.ranges[d].elements.len()).collect())
                .collect();
            let mut missing = Vec::new();
            for tuple in product(&all) {
                let names: Vec<String> = tuple
                    .iter()
                    .enumerate()
                    .map(|(k, &e)| self.ranges[dims[k]].elements[e].clone())
                    .collect();
                let key: Vec<String> = names.iter().map(|n| canonical_name(n)).collect();
                if seen.contains(&key) {
                    continue;
                }
                missing.push(format!("[{}]", names.join(", ")));
                // The kind of the first definition written out.
                let rhs = match out.first().map(|d| &d.rhs) {
                    Some(Rhs::Integ { .. }) => Rhs::Integ {
                        rate: Source::from("0"),
                        initial: Source::from("0"),
                    },
                    Some(Rhs::Table(_)) => Rhs::Table(vec![(0.0, 0.0)]),
                    Some(Rhs::WithLookup { .. }) => Rhs::WithLookup {
                        input: Source::from("TIME"),
                        points: vec![(0.0, 0.0)],
                    },
                    _ => Rhs::Number(0.0),
                };
                out.push(Def {
                    name: first.name.clone(),
                    subscripts: names,
                    except: Vec::new(),
                    rhs,
                    data: first.data,
                    units: first.units.clone(),
                    doc: first.doc.clone(),
                    location: first.location.clone(),
                });
            }
            let shown = if missing.len() > 5 {
                format!("{} and {} more", missing[..5].join(", "), missing.len() - 5)
            } else {
                missing.join(", ")
            };
            reader.warn(
                &first.name,
                first.location.clone(),
                format!("no equation defines {shown}: taken as 0, as Vensim does"),
            );
        }
        Some(out)
    }
}

/// The texts of a right-hand side that are equations.
fn sources(rhs: &Rhs) -> Vec<&Source> {
    match rhs {
        Rhs::Expression(s) => vec![s],
        Rhs::Integ { rate, initial } => vec![rate, initial],
        Rhs::WithLookup { input, .. } => vec![input],
        Rhs::Number(_) | Rhs::List(_) | Rhs::Table(_) | Rhs::External(_) => Vec::new(),
    }
}

/// Every combination of one choice per position, the last varying fastest.
fn product<T: Clone>(choices: &[Vec<T>]) -> Vec<Vec<T>> {
    let mut all = vec![Vec::new()];
    for here in choices {
        all = all
            .into_iter()
            .flat_map(|prefix: Vec<T>| {
                here.iter().map(move |c| {
                    let mut next = prefix.clone();
                    next.push(c.clone());
                    next
                })
            })
            .collect();
    }
    all
}

/// One subscript standing for one element while an equation is written out.
#[derive(Clone)]
struct Bound {
    /// The range written (none for an element written as itself).
    range: Option<usize>,
    /// The variable's dimension at this position (a range).
    dim: usize,
    /// The element, an index into the dimension's elements.
    element: usize,
}

/// The subscripts bound while one element's equation is written.
struct Scope<'r> {
    ranges: &'r Ranges,
    /// Innermost last: the left-hand side's, then those of `d!` in sums.
    bound: Vec<Bound>,
}

impl Scope<'_> {
    fn source(&self, s: &Source) -> Result<Source, String> {
        // Each equation is parsed once, however many elements it stands for.
        let parsed = {
            let mut cache = self.ranges.parsed.borrow_mut();
            cache
                .entry(s.text.clone())
                .or_insert_with(|| crate::expr::parse(&s.text).ok().map(std::rc::Rc::new))
                .clone()
        };
        let Some(expr) = parsed else {
            return Ok(s.clone()); // the builder reports it, with its place
        };
        Ok(Source {
            text: self.render(&expr, &s.text)?,
            origin: s.origin.clone(),
        })
    }

    /// The element (family, index) range `r` stands for here.
    fn element_of(&self, r: usize) -> Option<(usize, usize)> {
        let ranges = &self.ranges.ranges;
        let range = &ranges[r];
        let family = range.family;
        let in_range = |b: &Bound, of: usize| {
            let key = &ranges[b.dim].keys[b.element];
            ranges[of].position(key)
        };
        let in_family = |i: usize| {
            let key = &range.keys[i];
            ranges[family].position(key)
        };
        // Bound directly.
        if let Some(b) = self.bound.iter().rev().find(|b| b.range == Some(r)) {
            return in_range(b, family).map(|e| (family, e));
        }
        // By a mapping, either way: the element at the same position.
        for b in self.bound.iter().rev() {
            let Some(written) = b.range else { continue };
            // `r -> m`, with the bound element in `m`.
            for &m in &range.mapping {
                if (m == written || ranges[m].family == ranges[b.dim].family)
                    && let Some(pos) = in_range(b, m)
                    && pos < range.keys.len()
                {
                    return in_family(pos).map(|e| (family, e));
                }
            }
            // `written -> r`.
            if ranges[written].mapping.contains(&r)
                && let Some(pos) = in_range(b, written)
                && pos < range.keys.len()
            {
                return in_family(pos).map(|e| (family, e));
            }
        }
        // The same element, from a range of the same family.
        for b in self.bound.iter().rev() {
            if ranges[b.dim].family == family
                && let Some(pos) = in_range(b, r)
            {
                return in_family(pos).map(|e| (family, e));
            }
        }
        None
    }

    fn unbound(&self, name: &str) -> String {
        format!(
            "subscript range `{name}` is used in the equation but stands for no element here: put it on the left-hand side, map it to a range there, or sum over it with `{name}!`"
        )
    }

    fn render(&self, e: &Expr, text: &str) -> Result<String, String> {
        let ranges = &self.ranges.ranges;
        match &e.kind {
            ExprKind::Name(n) => match self.ranges.find(n) {
                // A range as a value: the element's position in its family.
                Some(r) => {
                    let (_, element) = self.element_of(r).ok_or_else(|| self.unbound(n))?;
                    Ok(format!("{}", element + 1))
                }
                // An element as a value: its position in its family.
                None => match self.ranges.element_value(n) {
                    Some(element) => Ok(format!("{}", element + 1)),
                    None => Ok(text[e.span.clone()].to_string()),
                },
            },
            ExprKind::Subscript {
                name_span, indices, ..
            } => {
                let mut out = text[name_span.clone()].to_string();
                out.push('[');
                for (i, index) in indices.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let name = match &index.kind {
                        IndexKind::Name(n) | IndexKind::All(n) => {
                            self.ranges.find(n).map(|r| (n, r))
                        }
                        _ => None,
                    };
                    match name {
                        Some((n, r)) => {
                            let (family, element) =
                                self.element_of(r).ok_or_else(|| match &index.kind {
                                    IndexKind::All(_) => format!(
                                        "`{n}!` stands for every element of `{n}`: use it inside SUM, PROD, VMIN or VMAX"
                                    ),
                                    _ => self.unbound(n),
                                })?;
                            out.push_str(&quoted(&ranges[family].elements[element]));
                        }
                        None => out.push_str(&text[index.span.clone()]),
                    }
                }
                out.push(']');
                Ok(out)
            }
            ExprKind::Call { name, args, .. } => {
                let function = canonical_name(name);
                match function.as_str() {
                    "elmcount" => match args.as_slice() {
                        [
                            Expr {
                                kind: ExprKind::Name(n),
                                ..
                            },
                        ] => match self.ranges.find(n) {
                            Some(r) => Ok(format!("{}", ranges[r].keys.len())),
                            None => Err(format!(
                                "ELMCOUNT takes a subscript range: `{n}` is not one"
                            )),
                        },
                        _ => Err("ELMCOUNT takes one subscript range".into()),
                    },
                    "sum" | "prod" | "vmin" | "vmax" if args.len() == 1 => {
                        let mut free = Vec::new();
                        args[0].walk(&mut |node| {
                            if let ExprKind::Subscript { indices, .. } = &node.kind {
                                for index in indices {
                                    if let IndexKind::All(n) = &index.kind
                                        && let Some(r) = self.ranges.find(n)
                                        && !free.contains(&r)
                                    {
                                        free.push(r);
                                    }
                                }
                            }
                        });
                        if free.is_empty() {
                            return self.splice(e, text);
                        }
                        let count = free
                            .iter()
                            .fold(1usize, |n, &r| n.saturating_mul(ranges[r].keys.len()));
                        let written = self.ranges.terms.get().saturating_add(count);
                        if written > MAX_TERMS {
                            return Err(format!(
                                "the sums of this model would write out more than {MAX_TERMS} terms"
                            ));
                        }
                        self.ranges.terms.set(written);
                        let choices: Vec<Vec<usize>> = free
                            .iter()
                            .map(|&r| (0..ranges[r].keys.len()).collect())
                            .collect();
                        let mut terms = Vec::new();
                        for tuple in product(&choices) {
                            let mut bound = self.bound.clone();
                            for (&r, &i) in free.iter().zip(&tuple) {
                                let family = ranges[r].family;
                                let key = &ranges[r].keys[i];
                                let element = ranges[family].position(key).unwrap_or(0);
                                bound.push(Bound {
                                    range: Some(r),
                                    dim: family,
                                    element,
                                });
                            }
                            let inner = Scope {
                                ranges: self.ranges,
                                bound,
                            };
                            terms.push(inner.render(&args[0], text)?);
                        }
                        Ok(match function.as_str() {
                            "sum" => balanced(&terms, "+"),
                            "prod" => balanced(&terms, "*"),
                            "vmin" if terms.len() > 1 => format!("MIN({})", terms.join(", ")),
                            "vmax" if terms.len() > 1 => format!("MAX({})", terms.join(", ")),
                            _ => format!("({})", terms[0]),
                        })
                    }
                    "vector_select"
                    | "vector_sort_order"
                    | "vector_rank"
                    | "vector_reorder"
                    | "allocate_by_priority"
                    | "allocate_available"
                    | "invert_matrix" => {
                        // Their array arguments stay arrays: `d!` and the
                        // vector's own (last) dimensions are kept as whole
                        // dimensions, the other subscripts bound. The
                        // trailing dimensions of each array argument:
                        let trailing: &[usize] = match function.as_str() {
                            "vector_select" => &[0, 0],
                            "vector_sort_order" | "vector_rank" => &[1],
                            "invert_matrix" => &[2],
                            // The requests, and the priority profiles
                            // (requester and pprofile).
                            "allocate_available" => &[1, 2],
                            _ => &[1, 1],
                        };
                        crate::expr::splice_children(e, text, |child| {
                            let position = args.iter().position(|a| std::ptr::eq(a, child));
                            match (position, &child.kind) {
                                (Some(p), ExprKind::Subscript { .. }) if p < trailing.len() => {
                                    self.render_vector(child, text, trailing[p])
                                }
                                _ => self.render(child, text),
                            }
                        })
                    }
                    _ => self.splice(e, text),
                }
            }
            _ => self.splice(e, text),
        }
    }

    /// An array argument of a vector function: `d!` and the last
    /// `trailing` subscripts, when they are ranges, become the whole
    /// dimension (`family!`); the others are bound as anywhere else.
    fn render_vector(&self, e: &Expr, text: &str, trailing: usize) -> Result<String, String> {
        let ranges = &self.ranges.ranges;
        let ExprKind::Subscript {
            name_span, indices, ..
        } = &e.kind
        else {
            return self.render(e, text);
        };
        let mut out = text[name_span.clone()].to_string();
        out.push('[');
        // The positions in its family of a subrange the vector runs over.
        let mut subrange: Option<Vec<usize>> = None;
        for (i, index) in indices.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let whole = match &index.kind {
                IndexKind::All(n) => self.ranges.find(n),
                IndexKind::Name(n) if i + trailing >= indices.len() => self.ranges.find(n),
                _ => None,
            };
            match whole {
                Some(r) if ranges[r].family == r => {
                    out.push_str(&quoted(&ranges[r].name));
                    out.push('!');
                }
                Some(r) if trailing == 1 && matches!(index.kind, IndexKind::Name(_)) => {
                    // The whole family, and which of its elements the
                    // subrange keeps.
                    let family = &ranges[ranges[r].family];
                    out.push_str(&quoted(&family.name));
                    out.push('!');
                    subrange = Some(
                        ranges[r]
                            .keys
                            .iter()
                            .filter_map(|k| family.position(k))
                            .collect(),
                    );
                }
                Some(r) => {
                    return Err(format!(
                        "this vector function over the subrange `{}` is not supported: use the whole range `{}`",
                        ranges[r].name, ranges[ranges[r].family].name
                    ));
                }
                None => {
                    let one = Expr {
                        kind: ExprKind::Subscript {
                            name: String::new(),
                            name_span: 0..0,
                            indices: vec![index.clone()],
                        },
                        span: e.span.clone(),
                    };
                    let rendered = self.render(&one, text)?;
                    out.push_str(&rendered[1..rendered.len() - 1]);
                }
            }
        }
        out.push(']');
        Ok(match subrange {
            Some(positions) => {
                let positions: Vec<String> = positions.iter().map(|p| p.to_string()).collect();
                format!("VECTOR_ELEMENTS({out}, {})", positions.join(", "))
            }
            None => out,
        })
    }

    /// The expression's text with each child written out.
    fn splice(&self, e: &Expr, text: &str) -> Result<String, String> {
        crate::expr::splice_children(e, text, |child| self.render(child, text))
    }
}

/// A balanced sum or product of the terms, so that a long one nests only
/// as deep as the logarithm of its length.
fn balanced(terms: &[String], op: &str) -> String {
    match terms {
        [one] => format!("({one})"),
        _ => {
            let (left, right) = terms.split_at(terms.len() / 2);
            format!("({} {op} {})", balanced(left, op), balanced(right, op))
        }
    }
}

/// An element name as an equation can read it.
fn quoted(element: &str) -> String {
    if element
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == ' ')
        && !element.starts_with(|c: char| c.is_ascii_digit())
        && !crate::expr::quote_vensim_names(element).starts_with('"')
    {
        element.to_string()
    } else {
        format!("\"{}\"", element.replace('"', "\\\""))
    }
}

//! Units of measure: parsing and algebra for the compiler's unit check.
//!
//! A unit string is a product of named units with integer powers:
//! `children/year`, `£/(child*week)`, `person^2`, `1/year`. `1`, `dmnl` and
//! `dimensionless` mean no unit. Plurals are folded (`people` = `person`,
//! `children` = `child`, `years` = `year`) so that `children` and
//! `child/year * year` agree.

use std::collections::BTreeMap;
use std::fmt;

/// A unit: named base units with integer exponents. The empty unit is
/// dimensionless.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Units {
    factors: BTreeMap<String, i32>,
}

impl Units {
    /// The dimensionless unit.
    pub fn dimensionless() -> Self {
        Units::default()
    }

    /// Whether this is the dimensionless unit.
    pub fn is_dimensionless(&self) -> bool {
        self.factors.is_empty()
    }

    /// Parses a unit string.
    ///
    /// # Errors
    ///
    /// A message saying what was expected, for text that is not a unit
    /// expression.
    pub fn parse(text: &str) -> Result<Units, String> {
        let mut parser = UnitParser {
            chars: text.chars().collect(),
            pos: 0,
            depth: 0,
        };
        let units = parser.product()?;
        parser.skip_space();
        if parser.pos < parser.chars.len() {
            return Err(format!(
                "unexpected `{}` in units `{text}`",
                parser.chars[parser.pos]
            ));
        }
        Ok(units)
    }

    fn base(name: &str) -> Units {
        let name = normalise(name);
        let mut factors = BTreeMap::new();
        if !matches!(
            name.as_str(),
            "1" | "dmnl" | "dimensionless" | "unitless" | "fraction" | "ratio"
        ) {
            factors.insert(name, 1);
        }
        Units { factors }
    }

    /// The product of two units.
    pub fn mul(&self, other: &Units) -> Units {
        let mut factors = self.factors.clone();
        for (name, power) in &other.factors {
            // Saturating: powers from a file (`(year^2000000000)^2`) may
            // be anything; a saturated power is still not dimensionless.
            let entry = factors.entry(name.clone()).or_insert(0);
            *entry = entry.saturating_add(*power);
        }
        factors.retain(|_, p| *p != 0);
        Units { factors }
    }

    /// This unit raised to an integer power.
    pub fn powi(&self, power: i32) -> Units {
        let mut factors = BTreeMap::new();
        if power != 0 {
            for (name, p) in &self.factors {
                factors.insert(name.clone(), p.saturating_mul(power));
            }
        }
        Units { factors }
    }

    /// The square root, when every power is even (`person^2` -> `person`).
    pub fn sqrt(&self) -> Option<Units> {
        let mut factors = BTreeMap::new();
        for (name, p) in &self.factors {
            if p % 2 != 0 {
                return None;
            }
            factors.insert(name.clone(), p / 2);
        }
        Some(Units { factors })
    }

    /// The quotient of two units.
    pub fn div(&self, other: &Units) -> Units {
        self.mul(&other.powi(-1))
    }
}

impl fmt::Display for Units {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let numerator: Vec<String> = self
            .factors
            .iter()
            .filter(|(_, p)| **p > 0)
            .map(|(n, p)| {
                if *p == 1 {
                    n.clone()
                } else {
                    format!("{n}^{p}")
                }
            })
            .collect();
        let denominator: Vec<String> = self
            .factors
            .iter()
            .filter(|(_, p)| **p < 0)
            .map(|(n, p)| {
                if *p == -1 {
                    n.clone()
                } else {
                    format!("{n}^{}", -p)
                }
            })
            .collect();
        let top = if numerator.is_empty() {
            "1".to_string()
        } else {
            numerator.join("*")
        };
        match denominator.len() {
            0 if numerator.is_empty() => write!(f, "dimensionless"),
            0 => write!(f, "{top}"),
            1 => write!(f, "{top}/{}", denominator[0]),
            _ => write!(f, "{top}/({})", denominator.join("*")),
        }
    }
}

/// Folds case and common plurals so that `People`, `person` and `persons`
/// are the same unit.
fn normalise(name: &str) -> String {
    let lower = crate::name::canonical_name(name);
    match lower.as_str() {
        "people" | "persons" => return "person".into(),
        "children" => return "child".into(),
        "families" => return "family".into(),
        "pounds" | "gbp" => return "£".into(),
        "yr" | "yrs" | "years" | "annum" => return "year".into(),
        "dmnl" | "dimensionless" | "unitless" => return lower,
        _ => {}
    }
    if lower.len() > 3 && lower.ends_with("ies") {
        return format!("{}y", &lower[..lower.len() - 3]);
    }
    if lower.len() > 3 && lower.ends_with('s') && !lower.ends_with("ss") && !lower.ends_with("us") {
        return lower[..lower.len() - 1].to_string();
    }
    lower
}

/// The most parentheses a unit string may nest (each level is a frame of
/// recursion; real units nest two or three).
const MAX_UNIT_DEPTH: usize = 64;

struct UnitParser {
    chars: Vec<char>,
    pos: usize,
    /// Parentheses open at `pos`.
    depth: usize,
}

impl UnitParser {
    fn skip_space(&mut self) {
        while self.pos < self.chars.len() && self.chars[self.pos].is_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_space();
        self.chars.get(self.pos).copied()
    }

    fn product(&mut self) -> Result<Units, String> {
        let mut units = self.power()?;
        loop {
            match self.peek() {
                Some('*') => {
                    self.pos += 1;
                    units = units.mul(&self.power()?);
                }
                Some('/') => {
                    self.pos += 1;
                    units = units.div(&self.power()?);
                }
                _ => return Ok(units),
            }
        }
    }

    fn power(&mut self) -> Result<Units, String> {
        let base = self.atom()?;
        if self.peek() == Some('^') {
            self.pos += 1;
            self.skip_space();
            let start = self.pos;
            if matches!(self.chars.get(self.pos), Some('-' | '+')) {
                self.pos += 1;
            }
            while self.chars.get(self.pos).is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            let text: String = self.chars[start..self.pos].iter().collect();
            let power: i32 = text
                .parse()
                .map_err(|_| format!("expected an integer power after `^`, found `{text}`"))?;
            return Ok(base.powi(power));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Units, String> {
        match self.peek() {
            Some('(') => {
                if self.depth >= MAX_UNIT_DEPTH {
                    return Err(format!(
                        "units nest more than {MAX_UNIT_DEPTH} parentheses deep; expected a unit such as `children/(worker*year)`"
                    ));
                }
                self.pos += 1;
                self.depth += 1;
                let inner = self.product()?;
                self.depth -= 1;
                if self.peek() != Some(')') {
                    return Err("expected `)` in units".into());
                }
                self.pos += 1;
                Ok(inner)
            }
            Some(c) if !"*/^()".contains(c) => {
                let start = self.pos;
                while self
                    .chars
                    .get(self.pos)
                    .is_some_and(|c| !"*/^()".contains(*c))
                {
                    self.pos += 1;
                }
                let name: String = self.chars[start..self.pos].iter().collect();
                Ok(Units::base(name.trim()))
            }
            Some(c) => Err(format!("expected a unit name, found `{c}`")),
            None => Err("expected a unit name, found the end of the units".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Units {
        Units::parse(s).unwrap()
    }

    #[test]
    fn algebra_and_plurals() {
        assert_eq!(u("people"), u("Person"));
        assert_eq!(u("children/year").mul(&u("years")), u("child"));
        assert_eq!(u("£/(child*week)").mul(&u("children")), u("£/week"));
        assert_eq!(u("1/year"), u("year^-1"));
        assert!(u("dmnl").is_dimensionless());
        assert!(u("1").is_dimensionless());
        assert_eq!(u("Social Workers"), u("social worker"));
        assert_eq!(u("families"), u("family"));
        assert_eq!(u("person^2/year^2").sqrt(), Some(u("person/year")));
        assert_eq!(u("person/year").sqrt(), None);
    }

    #[test]
    fn display_is_readable() {
        assert_eq!(u("children/year").to_string(), "child/year");
        assert_eq!(u("£/(child*week)").to_string(), "£/(child*week)");
        assert_eq!(u("1/year").to_string(), "1/year");
        assert_eq!(u("dmnl").to_string(), "dimensionless");
    }

    #[test]
    fn bad_units_are_explained() {
        assert!(
            Units::parse("year^x")
                .unwrap_err()
                .contains("integer power")
        );
        assert!(Units::parse("(year").unwrap_err().contains("`)`"));
        assert!(Units::parse("").is_err());
    }

    /// Found by mutation fuzzing: 20,000 parentheses around a unit in a
    /// Vensim file overflowed the stack, and huge powers overflowed.
    #[test]
    fn deep_units_and_huge_powers_are_refused_or_saturate() {
        let deep = format!("{}Day{}", "(".repeat(20_000), ")".repeat(20_000));
        assert!(
            Units::parse(&deep)
                .unwrap_err()
                .contains("nest more than 64")
        );
        let nested = format!("{}Day{}", "(".repeat(64), ")".repeat(64));
        assert_eq!(Units::parse(&nested), Ok(u("day")));
        let huge = u("(year^2000000000)^2000000000").mul(&u("year^2000000000"));
        assert!(!huge.is_dimensionless());
    }
}

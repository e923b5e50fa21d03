//! Variable names as system-dynamics tools treat them.
//!
//! Names are case-insensitive, spaces and underscores are the same character,
//! runs of them count as one, and surrounding quotes are ignored:
//! `"Teacup Temperature"`, `teacup_temperature` and `TEACUP  TEMPERATURE` are
//! one name.

/// The canonical form of a name: lowercase, trimmed, unquoted, with each run
/// of spaces, tabs, newlines and underscores replaced by one underscore,
/// and none beside a subscript's brackets and commas.
///
/// ```
/// use carecascade_engine::canonical_name;
/// assert_eq!(canonical_name("\"Teacup  Temperature\""), "teacup_temperature");
/// assert_eq!(canonical_name("teacup_temperature"), "teacup_temperature");
/// assert_eq!(canonical_name("share[Age 0 to 4, Kinship]"), "share[age_0_to_4,kinship]");
/// assert_eq!(canonical_name("share [ age 0 to 4 ,kinship ]"), "share[age_0_to_4,kinship]");
/// ```
pub fn canonical_name(name: &str) -> String {
    let trimmed = name.trim();
    let unquoted = trimmed
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(trimmed)
        .trim();
    let mut out = String::with_capacity(unquoted.len());
    let mut pending_separator = false;
    for c in unquoted.chars() {
        if c.is_whitespace() || c == '_' {
            pending_separator = true;
            continue;
        }
        // Spaces around a subscript's brackets and commas are not part of
        // a name: `x[a, b]` is `x[a,b]`.
        let bracket = |c: char| matches!(c, '[' | ']' | ',');
        if pending_separator && !out.is_empty() && !bracket(c) && !out.ends_with(bracket) {
            out.push('_');
        }
        pending_separator = false;
        out.extend(c.to_lowercase());
    }
    out
}

/// The candidate closest to `name` (compared in canonical form), if it is close
/// enough to be a plausible typo.
pub fn closest<'a, I>(name: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let wanted = canonical_name(name);
    let mut best: Option<(f64, &str)> = None;
    for candidate in candidates {
        let score = strsim::jaro_winkler(&wanted, &canonical_name(candidate));
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, candidate));
        }
    }
    best.filter(|(score, _)| *score >= 0.75)
        .map(|(_, c)| c.to_string())
}

/// The most errors of one pass over a model (reading, building, compiling)
/// that get a suggestion. Finding the closest name looks at every
/// candidate, so suggesting for each of thousands of errors (a file full of
/// typos) would take time quadratic in the file's size; past this many
/// errors, the rest are reported without one.
pub(crate) const MAX_SUGGESTIONS: usize = 100;

/// As [`closest`], for a pass that has found `errors` errors so far: none
/// once that is [`MAX_SUGGESTIONS`] or more.
pub(crate) fn closest_while<'a, I>(errors: usize, name: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    if errors < MAX_SUGGESTIONS {
        closest(name, candidates)
    } else {
        None
    }
}

/// " did you mean `x`?" for an optional suggestion, or an empty string.
pub fn did_you_mean(suggestion: Option<String>) -> String {
    suggestion
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_agree() {
        assert_eq!(canonical_name("Room Temperature"), "room_temperature");
        assert_eq!(canonical_name("  room__temperature "), "room_temperature");
        assert_eq!(canonical_name("\"Room\tTemperature\""), "room_temperature");
        assert_eq!(canonical_name("_x_"), "x");
    }

    #[test]
    fn closest_finds_typos_only() {
        let names = [
            "Teacup Temperature",
            "Room Temperature",
            "Characteristic Time",
        ];
        assert_eq!(
            closest("teacup temprature", names).as_deref(),
            Some("Teacup Temperature")
        );
        assert_eq!(closest("zzz", names), None);
    }
}

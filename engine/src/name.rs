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
///
/// Candidates are ranked by the mean of two similarities: Jaro-Winkler on
/// the whole name (good at typos) and the share of words the two names
/// have in common, each word allowing a typo (good at names that differ
/// in one word: `placement price real growth` is closer to `residential
/// price real growth` than to `placement mix 2023[...]`, which only shares
/// its first word). A candidate is suggested when either similarity is
/// high enough (Jaro-Winkler at least 0.75, or the mean at least 0.75).
pub fn closest<'a, I>(name: &str, candidates: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    let wanted = canonical_name(name);
    let wanted_words = words(&wanted);
    let mut best: Option<(f64, f64, &str)> = None;
    for candidate in candidates {
        let canonical = canonical_name(candidate);
        let whole = strsim::jaro_winkler(&wanted, &canonical);
        let rank = 0.5 * (whole + shared_words(&wanted_words, &words(&canonical)));
        if best.is_none_or(|(r, _, _)| rank > r) {
            best = Some((rank, whole, candidate));
        }
    }
    best.filter(|(rank, whole, _)| *rank >= 0.75 || *whole >= 0.75)
        .map(|(_, _, c)| c.to_string())
}

/// The words of a canonical name (split at underscores, brackets and
/// commas).
fn words(canonical: &str) -> Vec<&str> {
    canonical
        .split(['_', '[', ']', ','])
        .filter(|w| !w.is_empty())
        .collect()
}

/// The share of the words of `a` and `b` that have a match in the other
/// (a word matches one at Jaro-Winkler 0.9 or more): 1 for the same words
/// in any order, 0 for none in common.
fn shared_words(a: &[&str], b: &[&str]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 1.0;
    }
    let matched = |x: &[&str], y: &[&str]| {
        x.iter()
            .filter(|w| y.iter().any(|v| strsim::jaro_winkler(w, v) >= 0.9))
            .count()
    };
    (matched(a, b) + matched(b, a)) as f64 / (a.len() + b.len()) as f64
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

    #[test]
    fn closest_prefers_the_name_that_differs_in_one_word() {
        let names = [
            "placement mix 2023[age 0 to 4,childrens home]",
            "placement mix total",
            "residential price real growth",
            "weekly placement cost[secure]",
        ];
        assert_eq!(
            closest("placement price real growth", names).as_deref(),
            Some("residential price real growth")
        );
        assert_eq!(
            closest("placement mix totl", names).as_deref(),
            Some("placement mix total")
        );
        assert_eq!(
            closest("weekly placement cost[secrue]", names).as_deref(),
            Some("weekly placement cost[secure]")
        );
    }
}

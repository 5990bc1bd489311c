//! Durations as kcompile reads them, in the spec, on the command line and in the state: Go's
//! notation (`8760h`, `8760h0m0s`, `90m`) or days (`365d`), bounded by [`MAX_DURATION`].

use std::time::Duration;

/// The longest duration kcompile accepts anywhere (validities, renewal and warning windows): 100
/// years. Longer ones only overflow date arithmetic or reach beyond what X.509 dates can say.
pub const MAX_DURATION: Duration = Duration::from_secs(36_500 * 86_400);

/// A duration written the Go way (`8760h`, `8760h0m0s`, `90m`) or in days (`365d`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "d" => 86_400,
            "h" => 3_600,
            "m" => 60,
            "s" => 1,
            _ => return None,
        };
        total = total.checked_add(number.checked_mul(seconds)?)?;
        rest = &rest[unit_len..];
    }
    Some(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("8760h"),
            Some(Duration::from_secs(8760 * 3600))
        );
        assert_eq!(
            parse_duration("8760h0m0s"),
            Some(Duration::from_secs(8760 * 3600))
        );
        assert_eq!(
            parse_duration("365d"),
            Some(Duration::from_secs(365 * 86400))
        );
        assert_eq!(parse_duration("1y"), None);
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_duration(""), None);
    }
}

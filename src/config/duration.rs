//! Durations in the config language: `"10ms"`, `"1s"`, `"1.5s"`, `"2m"`, `"1h"`; a bare number means seconds.
//!
//! Parsed with exact decimal arithmetic (no floats) so that `"0.01s"` is exactly 10 ms:
//! advert intervals must be whole centiseconds and float rounding would reject valid input.

use std::time::Duration;

/// Why a duration string was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing to parse.
    #[error("empty duration")]
    Empty,
    /// A leading minus sign.
    #[error("durations cannot be negative")]
    Negative,
    /// The number part is not a plain decimal number.
    #[error("`{0}` is not a number")]
    BadNumber(String),
    /// The unit is not one of ms, s, m, h.
    #[error("unknown unit `{0}`")]
    UnknownUnit(String),
    /// Finer than a nanosecond or larger than the supported range.
    #[error("duration out of range")]
    OutOfRange,
}

/// Parse a duration string such as `"1.5s"`; a number without a unit is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    if text.starts_with('-') {
        return Err(DurationError::Negative);
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number = number.strip_prefix('+').unwrap_or(number);
    // Nanoseconds per unit; "m" is minutes as in the "2m".
    let scale: u128 = match unit.trim() {
        "" | "s" | "sec" => 1_000_000_000,
        "ms" => 1_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        other => return Err(DurationError::UnknownUnit(other.to_string())),
    };
    let nanos = decimal_times(number, scale)?;
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| DurationError::OutOfRange)?;
    // The remainder is < 1e9, so it always fits.
    let sub = (nanos % 1_000_000_000) as u32;
    Ok(Duration::new(secs, sub))
}

/// `number * scale` for a plain decimal `number`, exactly, or an error when not a whole nanosecond.
fn decimal_times(number: &str, scale: u128) -> Result<u128, DurationError> {
    let bad = || DurationError::BadNumber(number.to_string());
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(bad());
    }
    if !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if number.ends_with('.') || number.starts_with('.') {
        return Err(bad());
    }
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    if digits.len() > 30 {
        return Err(DurationError::OutOfRange);
    }
    let mantissa: u128 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| DurationError::OutOfRange)?
    };
    let frac_len = u32::try_from(frac_part.len()).map_err(|_| DurationError::OutOfRange)?;
    let divisor = 10u128
        .checked_pow(frac_len)
        .ok_or(DurationError::OutOfRange)?;
    let product = mantissa
        .checked_mul(scale)
        .ok_or(DurationError::OutOfRange)?;
    if product % divisor != 0 {
        return Err(DurationError::OutOfRange);
    }
    Ok(product / divisor)
}

/// Format a duration the way the config language writes it (`"1.5s"`, `"10ms"`, `"2m"`).
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        "0s".to_string()
    } else if nanos.is_multiple_of(3_600_000_000_000) {
        format!("{}h", nanos / 3_600_000_000_000)
    } else if nanos.is_multiple_of(60_000_000_000) && nanos >= 60_000_000_000 {
        format!("{}m", nanos / 60_000_000_000)
    } else if nanos.is_multiple_of(1_000_000_000) {
        format!("{}s", nanos / 1_000_000_000)
    } else if nanos.is_multiple_of(1_000_000) && nanos < 1_000_000_000 {
        format!("{}ms", nanos / 1_000_000)
    } else {
        let s = format!("{}.{:09}", nanos / 1_000_000_000, nanos % 1_000_000_000);
        format!("{}s", s.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse_duration("10ms"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_duration("0.01"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_duration("40.95s"), Ok(Duration::from_millis(40950)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(parse_duration("-1s"), Err(DurationError::Negative));
        assert_eq!(
            parse_duration("1x"),
            Err(DurationError::UnknownUnit("x".into()))
        );
        assert!(matches!(
            parse_duration("."),
            Err(DurationError::BadNumber(_))
        ));
        assert!(matches!(
            parse_duration("1..2s"),
            Err(DurationError::BadNumber(_))
        ));
        assert!(matches!(
            parse_duration("s"),
            Err(DurationError::BadNumber(_))
        ));
        assert_eq!(
            parse_duration("0.0000000001s"),
            Err(DurationError::OutOfRange)
        );
        assert_eq!(
            parse_duration("99999999999999999999999999999999999h"),
            Err(DurationError::OutOfRange)
        );
    }

    #[test]
    fn formats_round_trip() {
        for text in ["10ms", "1s", "1.5s", "2m", "0s", "40.95s", "1h", "90m"] {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), text);
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }
}

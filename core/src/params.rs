//! Nomad's query-parameter syntax, for every front end: blocking-query
//! indexes, Go's duration syntax for `wait`, Go's boolean forms, and the
//! `per_page` of lists.

use std::time::Duration;

/// A decimal u64, digits only (no sign, no spaces), as Go's `strconv.ParseUint`.
pub fn parse_index(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The largest `per_page`: Nomad reads it as a Go `int32`.
pub const MAX_PER_PAGE: u32 = i32::MAX as u32;

/// A list's `per_page`: a whole number from 0 (every item) to
/// [`MAX_PER_PAGE`], digits only. Nomad ignores a `per_page` it cannot read
/// and answers everything; ordu refuses it, so a client's mistake does not
/// turn into a 100,000-item answer. The error is the text a front end
/// answers its 400 with.
pub fn parse_per_page(s: &str) -> Result<u32, String> {
    parse_index(s)
        .filter(|n| *n <= u64::from(MAX_PER_PAGE))
        .map(|n| n as u32)
        .ok_or_else(|| format!("Invalid per_page: want a whole number from 0 to {MAX_PER_PAGE}"))
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `time.ParseDuration`: an optional sign, then one or more decimal
/// numbers (fractions allowed), each with a unit `ns`, `us`, `µs`, `ms`, `s`,
/// `m`, `h`; or a bare `0`. A negative duration answers zero; anything over
/// Go's range (about 292 years) or malformed is `None`.
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let (negative, mut rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    const MAX_NS: u128 = i64::MAX as u128;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.strip_prefix('.') {
            Some(a) => {
                let n = a.bytes().take_while(u8::is_ascii_digit).count();
                a.split_at(n)
            }
            None => ("", after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return None;
        }
        let unit_len = after
            .char_indices()
            .find(|(_, c)| *c == '.' || c.is_ascii_digit())
            .map_or(after.len(), |(i, _)| i);
        let (unit, after) = after.split_at(unit_len);
        let unit_ns: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None, // missing or unknown unit
        };
        // Digits beyond what u128 can hold overflow Go's range anyway.
        let int: u128 = if int_part.is_empty() {
            0
        } else if int_part.len() > 30 {
            return None;
        } else {
            int_part.parse().ok()?
        };
        total = total.checked_add(int.checked_mul(unit_ns)?)?;
        // Fractions below a nanosecond are dropped, as Go does.
        let mut scale = unit_ns;
        for d in frac_part.bytes().take(20) {
            scale /= 10;
            if scale == 0 {
                break;
            }
            total += u128::from(d - b'0') * scale;
        }
        if total > MAX_NS {
            return None;
        }
        rest = after;
    }
    if negative {
        return Some(Duration::ZERO);
    }
    Some(Duration::from_nanos(total as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Option<Duration> {
        parse_go_duration(s)
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(d("0"), Some(Duration::ZERO));
        assert_eq!(d("1s"), Some(Duration::from_secs(1)));
        assert_eq!(d("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(d("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(d(".5s"), Some(Duration::from_millis(500)));
        assert_eq!(d("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(d("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(d("1h2m3s4ms5us6ns"), Some(Duration::new(3723, 4_005_006)));
        assert_eq!(d("10µs"), Some(Duration::from_micros(10)));
        assert_eq!(d("10μs"), Some(Duration::from_micros(10)));
        assert_eq!(d("+3s"), Some(Duration::from_secs(3)));
        assert_eq!(d("-3s"), Some(Duration::ZERO), "negative is no wait");
        assert_eq!(d("1.000000001s"), Some(Duration::new(1, 1)));
        assert_eq!(d("0.1ns"), Some(Duration::ZERO), "below a ns is dropped");
        assert_eq!(d("2562047h"), Some(Duration::from_secs(2_562_047 * 3600)));
    }

    #[test]
    fn bad_go_durations_are_refused() {
        for bad in [
            "",
            "10",
            "5",
            "-",
            "+",
            "s",
            "1",
            "1x",
            "1S",
            "1 s",
            " 1s",
            "1s ",
            "1.s.",
            ".s",
            "1..5s",
            "1e3s",
            "0x10s",
            "3000000h",
            "99999999999999999999999999999999999h",
            "1s2",
            "abc",
            "∞s",
        ] {
            assert_eq!(d(bad), None, "{bad:?} should not parse");
        }
    }

    #[test]
    fn indexes_are_plain_u64() {
        assert_eq!(parse_index("0"), Some(0));
        assert_eq!(parse_index("42"), Some(42));
        assert_eq!(parse_index("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            "-1",
            "+1",
            " 1",
            "1 ",
            "abc",
            "1.0",
            "18446744073709551616",
        ] {
            assert_eq!(parse_index(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn per_page_is_a_bounded_whole_number() {
        assert_eq!(parse_per_page("0"), Ok(0));
        assert_eq!(parse_per_page("25"), Ok(25));
        assert_eq!(parse_per_page("2147483647"), Ok(MAX_PER_PAGE));
        for bad in ["", "-1", "x", "1.5", "2147483648", " 3"] {
            let e = parse_per_page(bad).unwrap_err();
            assert!(e.starts_with("Invalid per_page"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn go_bools() {
        assert_eq!(parse_go_bool("True"), Some(true));
        assert_eq!(parse_go_bool("0"), Some(false));
        assert_eq!(parse_go_bool("yes"), None);
    }
}

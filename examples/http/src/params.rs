//! Query parameters as Nomad's HTTP agent reads them: `index`, `wait` (Go
//! duration syntax), `prefix`, `region`, `pretty`, and the booleans `all` and
//! `purge` (Go's `strconv.ParseBool` forms).

use std::time::Duration;

/// A query parameter that does not parse: the plain-text body of the 400.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadParam(pub String);

/// The raw query parameters of one request, percent-decoded. The first
/// occurrence of a key wins, as Go's `Query().Get` does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    index: Option<String>,
    wait: Option<String>,
    prefix: Option<String>,
    region: Option<String>,
    pretty: Option<String>,
    all: Option<String>,
    purge: Option<String>,
}

/// What a blocking read asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blocking {
    /// Block until the read's index is above it (0: answer at once).
    pub index: u64,
    /// How long to block (`None`: the default wait).
    pub wait: Option<Duration>,
}

impl Params {
    /// Splits and percent-decodes a query string (`a=1&b=%2F`; `+` is a
    /// space). Nothing is checked yet.
    pub fn parse(query: Option<&str>) -> Params {
        let mut p = Params::default();
        let Some(q) = query else { return p };
        for (k, v) in form_urlencoded::parse(q.as_bytes()) {
            let slot = match k.as_ref() {
                "index" => &mut p.index,
                "wait" => &mut p.wait,
                "prefix" => &mut p.prefix,
                "region" => &mut p.region,
                "pretty" => &mut p.pretty,
                "all" => &mut p.all,
                "purge" => &mut p.purge,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v.into_owned());
            }
        }
        p
    }

    /// `?index=` and `?wait=`, checked (every GET checks them, even one that
    /// would not block): 400 `Invalid index` / `Invalid wait time`.
    pub fn blocking(&self) -> Result<Blocking, BadParam> {
        let index = match self.index.as_deref() {
            None | Some("") => 0,
            Some(s) => parse_index(s).ok_or_else(|| BadParam("Invalid index".into()))?,
        };
        let wait = match self.wait.as_deref() {
            None | Some("") => None,
            Some(s) => {
                let d = parse_go_duration(s).ok_or_else(|| BadParam("Invalid wait time".into()))?;
                // Zero or negative: the default wait, as Nomad does.
                (!d.is_zero()).then_some(d)
            }
        };
        Ok(Blocking { index, wait })
    }

    /// `?prefix=` (empty when absent).
    pub fn prefix(&self) -> &str {
        self.prefix.as_deref().unwrap_or("")
    }

    /// `?region=`, when given and not empty.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref().filter(|r| !r.is_empty())
    }

    /// `?pretty` with any value but `0` (a bare `?pretty` too).
    pub fn pretty(&self) -> bool {
        self.pretty.as_deref().is_some_and(|v| v != "0")
    }

    /// `?all=`: false when absent; 400 when not one of Go's boolean forms.
    pub fn all(&self) -> Result<bool, BadParam> {
        flag("all", self.all.as_deref())
    }

    /// `?purge=`: as [`Params::all`].
    pub fn purge(&self) -> Result<bool, BadParam> {
        flag("purge", self.purge.as_deref())
    }
}

fn flag(name: &str, value: Option<&str>) -> Result<bool, BadParam> {
    match value {
        None => Ok(false),
        Some(v) => parse_go_bool(v).ok_or_else(|| {
            BadParam(format!(
                "Failed to parse value of {name:?} ({v:?}): want true or false"
            ))
        }),
    }
}

/// A decimal u64, digits only (no sign, no spaces), as Go's `strconv.ParseUint`.
pub fn parse_index(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
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
    fn query_strings_decode_and_check() {
        let p = Params::parse(Some(
            "index=7&wait=1m&prefix=a%2Fb+c&region=&pretty&index=9",
        ));
        assert_eq!(
            p.blocking(),
            Ok(Blocking {
                index: 7,
                wait: Some(Duration::from_secs(60))
            })
        );
        assert_eq!(p.prefix(), "a/b c");
        assert_eq!(p.region(), None);
        assert!(p.pretty());
        assert!(!Params::parse(Some("pretty=0")).pretty());
        assert!(!Params::parse(None).pretty());

        let bad = Params::parse(Some("index=x")).blocking().unwrap_err();
        assert_eq!(bad.0, "Invalid index");
        let bad = Params::parse(Some("index=5&wait=10"))
            .blocking()
            .unwrap_err();
        assert_eq!(bad.0, "Invalid wait time");
        let zero = Params::parse(Some("index=5&wait=0")).blocking().unwrap();
        assert_eq!(zero.wait, None);

        assert_eq!(Params::parse(Some("all=True")).all(), Ok(true));
        assert_eq!(Params::parse(Some("all=0")).all(), Ok(false));
        assert_eq!(Params::parse(None).purge(), Ok(false));
        assert!(Params::parse(Some("purge=yes")).purge().is_err());
        assert!(Params::parse(Some("all")).all().is_err());
    }
}

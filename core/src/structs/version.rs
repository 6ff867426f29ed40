//! Versions and version constraints (`>= 1.2, < 2.0`, `~> 1.4`), for the
//! `version` constraint operand.

use std::cmp::Ordering;

/// A parsed version: numeric segments, then an optional pre-release. Missing
/// segments count as 0 (`1.0` equals `1.0.0`).
#[derive(Clone, Debug)]
pub struct Version {
    segments: Vec<u64>,
    pre: String,
}

impl Version {
    /// Parses `1`, `1.2`, `v1.2.3`, `1.2.3-beta1`, `1.2.3+meta`.
    pub fn parse(s: &str) -> Result<Version, String> {
        let t = s.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        let t = t.split('+').next().unwrap_or("");
        let (core, pre) = match t.split_once('-') {
            Some((c, p)) => (c, p.to_string()),
            None => (t, String::new()),
        };
        if core.is_empty() {
            return Err(format!("malformed version: {s:?}"));
        }
        let mut segments = Vec::new();
        for part in core.split('.') {
            let n = part
                .parse::<u64>()
                .map_err(|_| format!("malformed version: {s:?}"))?;
            segments.push(n);
        }
        if segments.len() > 8 {
            return Err(format!("malformed version: {s:?}"));
        }
        Ok(Version { segments, pre })
    }

    fn segment(&self, i: usize) -> u64 {
        self.segments.get(i).copied().unwrap_or(0)
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.segments.len().max(other.segments.len());
        for i in 0..n {
            match self.segment(i).cmp(&other.segment(i)) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        // A pre-release sorts before its release.
        match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => self.pre.cmp(&other.pre),
        }
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Pessimistic,
}

/// A comma-separated list of version requirements; all must hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionConstraint {
    parts: Vec<(Op, Version, usize)>,
}

impl VersionConstraint {
    /// Parses `>= 1.2, < 2`, `= 1.0`, `1.0` (equality), `~> 1.4.2`.
    pub fn parse(s: &str) -> Result<VersionConstraint, String> {
        let mut parts = Vec::new();
        for raw in s.split(',') {
            let p = raw.trim();
            let (op, rest) = [
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("!=", Op::Ne),
                ("~>", Op::Pessimistic),
                ("=", Op::Eq),
                (">", Op::Gt),
                ("<", Op::Lt),
            ]
            .iter()
            .find_map(|(tok, op)| p.strip_prefix(tok).map(|r| (*op, r)))
            .unwrap_or((Op::Eq, p));
            let rest = rest.trim();
            if rest.is_empty() {
                return Err(format!("malformed constraint: {s:?}"));
            }
            let v = Version::parse(rest).map_err(|_| format!("malformed constraint: {s:?}"))?;
            let written = rest
                .split(['-', '+'])
                .next()
                .unwrap_or("")
                .split('.')
                .count();
            parts.push((op, v, written));
        }
        Ok(VersionConstraint { parts })
    }

    /// True when `v` meets every requirement.
    pub fn matches(&self, v: &Version) -> bool {
        self.parts.iter().all(|(op, want, written)| match op {
            Op::Eq => v == want,
            Op::Ne => v != want,
            Op::Gt => v > want,
            Op::Ge => v >= want,
            Op::Lt => v < want,
            Op::Le => v <= want,
            Op::Pessimistic => {
                // `~> 1.4.2` means >= 1.4.2 and < 1.5; `~> 1.4` means < 2.
                if v < want {
                    return false;
                }
                let keep = written.saturating_sub(1).max(1);
                (0..keep).all(|i| v.segment(i) == want.segment(i))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(c: &str, v: &str) -> bool {
        VersionConstraint::parse(c)
            .unwrap()
            .matches(&Version::parse(v).unwrap())
    }

    #[test]
    fn ranges() {
        assert!(check(">= 1.2, < 2", "1.9.9"));
        assert!(!check(">= 1.2, < 2", "2.0"));
        assert!(!check(">= 1.2, < 2", "1.1"));
        assert!(check("= 1.0", "1.0.0"));
        assert!(check("!= 1.0", "1.0.1"));
        assert!(check("1.0", "1"));
    }

    #[test]
    fn pessimistic() {
        assert!(check("~> 1.4.2", "1.4.9"));
        assert!(!check("~> 1.4.2", "1.5.0"));
        assert!(check("~> 1.4", "1.9"));
        assert!(!check("~> 1.4", "2.0"));
        assert!(!check("~> 1.4", "1.3"));
    }

    #[test]
    fn prerelease_sorts_first() {
        assert!(Version::parse("1.0.0-beta").unwrap() < Version::parse("1.0.0").unwrap());
        assert!(check("< 1.0.0", "1.0.0-rc1"));
    }

    #[test]
    fn rejects_garbage() {
        assert!(VersionConstraint::parse(">= ").is_err());
        assert!(VersionConstraint::parse("abc").is_err());
        assert!(Version::parse("1.x").is_err());
    }
}

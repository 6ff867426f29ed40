//! The patterns of `regexp` constraints, compiled within bounds.
//!
//! A pattern is a client's input, and what it costs to compile is not what it
//! costs to send: `\w{60}x` is seven bytes, and its automaton (sixty copies of
//! every Unicode word character's UTF-8 forms) is megabytes. So checking a
//! pattern has two steps: [`parse`], cheap and linear in the pattern's length,
//! which every validation runs; and compiling, bounded per pattern and per job
//! by [`Regexes`], which validation runs only on a job with no other problem
//! and the scheduler runs once per pattern and evaluation.
//!
//! The engine is regex-automata's `meta::Regex`, the one the `regex` crate
//! wraps: it can say how much memory a compiled regex holds, which the
//! per-job budget charges.

use std::collections::HashMap;

use regex_automata::meta::{self, Regex};
use regex_syntax::hir::Hir;

/// The longest `regexp` pattern, in bytes. It bounds what parsing costs;
/// compiling is bounded by the size limits below.
pub const MAX_PATTERN_BYTES: usize = 16 << 10;

/// The most memory one pattern's compiled automata may take (the `regex`
/// crate's `size_limit`, whose default is 10 MiB). It admits patterns such as
/// `\w{10}x` or `(?s).{1000}`, and compiling up to it takes milliseconds.
pub const PATTERN_SIZE_LIMIT: usize = 1 << 20;

/// The most memory the lazy DFA of one pattern may use while it matches (the
/// `regex` crate's `dfa_size_limit`, whose default is 2 MiB). Past it the
/// engine falls back to a slower one; the answer is the same.
const DFA_CACHE_LIMIT: usize = 1 << 20;

/// The most memory all the distinct patterns of one job may take together,
/// compiled. Patterns that failed to compile count for the limit they were
/// given, so the work one job can ask for is bounded by this too.
pub const JOB_REGEX_BUDGET: usize = 8 << 20;

/// Checks a pattern's syntax, without compiling it. The message is one line.
pub(crate) fn parse(pattern: &str) -> Result<Hir, String> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!(
            "regexp of {} bytes is over the limit of {MAX_PATTERN_BYTES} bytes",
            pattern.len()
        ));
    }
    regex_syntax::parse(pattern).map_err(|e| {
        // The error's `Display` spans lines (pattern, caret, error); its
        // kind is the one-line reason.
        let why = match &e {
            regex_syntax::Error::Parse(e) => e.kind().to_string(),
            regex_syntax::Error::Translate(e) => e.kind().to_string(),
            e => e.to_string(),
        };
        format!("regular expression failed to compile: {why}")
    })
}

/// The compiled patterns of one job: each distinct pattern is compiled once,
/// however many constraints, groups or nodes use it, and all of them within
/// [`JOB_REGEX_BUDGET`]. Patterns are compiled in the order they are asked
/// for, so the same job in the same order gets the same answers.
#[derive(Default)]
pub(crate) struct Regexes {
    compiled: HashMap<String, Result<Regex, String>>,
    /// Budget spent so far, in bytes.
    spent: usize,
}

impl Regexes {
    /// The compiled `pattern`, or why it is refused (one line).
    pub(crate) fn get(&mut self, pattern: &str) -> Result<&Regex, &str> {
        if !self.compiled.contains_key(pattern) {
            let outcome = self.compile(pattern);
            self.compiled.insert(pattern.to_string(), outcome);
        }
        match &self.compiled[pattern] {
            Ok(re) => Ok(re),
            Err(why) => Err(why),
        }
    }

    fn compile(&mut self, pattern: &str) -> Result<Regex, String> {
        let hir = parse(pattern)?;
        let left = JOB_REGEX_BUDGET.saturating_sub(self.spent);
        if left == 0 {
            return Err(over_budget());
        }
        let limit = PATTERN_SIZE_LIMIT.min(left);
        #[cfg(test)]
        COMPILES.with(|n| n.set(n.get() + 1));
        let built = meta::Builder::new()
            .configure(
                meta::Config::new()
                    .nfa_size_limit(Some(limit))
                    .onepass_size_limit(Some(limit))
                    .hybrid_cache_capacity(DFA_CACHE_LIMIT),
            )
            .build_from_hir(&hir);
        match built {
            Ok(re) => {
                self.spent = self.spent.saturating_add(re.memory_usage());
                Ok(re)
            }
            Err(e) => {
                // Compiling ran up to the limit before it gave up.
                self.spent = self.spent.saturating_add(limit);
                Err(match e.size_limit() {
                    Some(_) if limit < PATTERN_SIZE_LIMIT => over_budget(),
                    Some(_) => format!(
                        "regexp too costly to compile: over the limit of \
                         {PATTERN_SIZE_LIMIT} bytes for one pattern"
                    ),
                    None => format!("regular expression failed to compile: {e}"),
                })
            }
        }
    }

    /// How many distinct patterns were asked for.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.compiled.len()
    }
}

fn over_budget() -> String {
    format!(
        "regexp too costly to compile: the job's patterns together are over \
         the limit of {JOB_REGEX_BUDGET} bytes"
    )
}

#[cfg(test)]
thread_local! {
    /// Compilations run on this thread, for tests that count them.
    pub(crate) static COMPILES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile_once_and_match_as_regex_does() {
        let mut r = Regexes::default();
        let before = COMPILES.with(|n| n.get());
        for _ in 0..3 {
            let re = r.get("^lin").unwrap();
            assert!(re.is_match("linux"));
            assert!(!re.is_match("darwin"));
        }
        assert!(r.get("nu").unwrap().is_match("linux"), "anywhere");
        assert_eq!(COMPILES.with(|n| n.get()) - before, 2);
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn errors_are_one_line() {
        let mut r = Regexes::default();
        assert_eq!(
            r.get("(").unwrap_err(),
            "regular expression failed to compile: unclosed group"
        );
        let long = "a".repeat(MAX_PATTERN_BYTES + 1);
        assert!(r
            .get(&long)
            .unwrap_err()
            .contains("over the limit of 16384 bytes"));
        let costly = r.get(r"\w{60}x").unwrap_err();
        assert!(
            costly.starts_with("regexp too costly to compile"),
            "{costly}"
        );
        assert!(!costly.contains('\n'));
    }

    #[test]
    fn a_job_has_one_budget() {
        let mut r = Regexes::default();
        // Each alone fits; together they pass the budget, and the first one
        // that does not fit is refused, as is every one after it.
        let refused = (1..200)
            .map(|i| format!(r"\w{{8}}{i}"))
            .position(|p| r.get(&p).is_err())
            .expect("the budget runs out");
        assert!(refused > 2, "{refused}");
        assert!(r.get(r"\w{8}0").unwrap_err().contains("together"));
        assert!(r.spent >= JOB_REGEX_BUDGET);
        assert!(Regexes::default().get(r"\w{8}0").is_ok());
    }
}

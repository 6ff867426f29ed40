//! Query parameters as Nomad's HTTP agent reads them: `index`, `wait` (Go
//! duration syntax), `prefix`, `region`, `namespace`, `pretty`, the booleans `all`,
//! `purge` and `reverse` (Go's `strconv.ParseBool` forms), and the lists'
//! `per_page`, `next_token`, `job` and `status`.

use std::time::Duration;

pub use ordu::params::{parse_go_bool, parse_go_duration, parse_index};

/// A query parameter that does not parse: the plain-text body of the 400.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadParam(pub String);

/// The raw query parameters of one request, percent-decoded. The first
/// occurrence of a key wins, as Go's `Query().Get` does. Boxed strings, not
/// `String`s: an open long-poll holds these for as long as it waits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    index: Option<Box<str>>,
    wait: Option<Box<str>>,
    prefix: Option<Box<str>>,
    region: Option<Box<str>>,
    namespace: Option<Box<str>>,
    pretty: Option<Box<str>>,
    all: Option<Box<str>>,
    stale: Option<Box<str>>,
    /// Boxed: only writes have them (see `list`).
    write: Option<Box<WriteParams>>,
    /// Boxed: only lists have them, and an open long-poll holds its
    /// parameters in its future.
    list: Option<Box<ListParams>>,
}

/// The parameters only writes take.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct WriteParams {
    purge: Option<Box<str>>,
    enable: Option<Box<str>>,
}

/// The parameters only lists take.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct ListParams {
    per_page: Option<Box<str>>,
    next_token: Option<Box<str>>,
    reverse: Option<Box<str>>,
    job: Option<Box<str>>,
    status: Option<Box<str>>,
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
                "namespace" => &mut p.namespace,
                "pretty" => &mut p.pretty,
                "all" => &mut p.all,
                "purge" => &mut p.write.get_or_insert_default().purge,
                "enable" => &mut p.write.get_or_insert_default().enable,
                "stale" => &mut p.stale,
                "per_page" => &mut p.list.get_or_insert_default().per_page,
                "next_token" => &mut p.list.get_or_insert_default().next_token,
                "reverse" => &mut p.list.get_or_insert_default().reverse,
                "job" => &mut p.list.get_or_insert_default().job,
                "status" => &mut p.list.get_or_insert_default().status,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(v.into());
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

    /// `?namespace=`, when given and not empty: the namespace of the job a
    /// job route names, or of a list (`*`: every namespace). Absent means
    /// `default` (the core's rule, see [`ordu::QueryOptions::namespace`]).
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref().filter(|n| !n.is_empty())
    }

    /// [`Params::namespace`], or `default` when absent.
    pub fn namespace_or_default(&self) -> &str {
        self.namespace().unwrap_or(ordu::structs::DEFAULT_NAMESPACE)
    }

    /// `?pretty` with any value but `0` (a bare `?pretty` too).
    pub fn pretty(&self) -> bool {
        self.pretty.as_deref().is_some_and(|v| v != "0")
    }

    /// `?all=`: false when absent; 400 when not one of Go's boolean forms.
    pub fn all(&self) -> Result<bool, BadParam> {
        flag("all", self.all.as_deref())
    }

    /// `?enable=` of a node drain, unparsed (the core checks it).
    pub fn enable(&self) -> Option<&str> {
        self.write.as_deref().and_then(|w| w.enable.as_deref())
    }

    /// `?stale` (bare, or any value but `false` or `0`): any server may
    /// answer from its own state, as Nomad's `AllowStale`.
    pub fn stale(&self) -> bool {
        self.stale
            .as_deref()
            .is_some_and(|v| !matches!(v, "false" | "0"))
    }

    /// A list's filters and paging: `?prefix=`, `?job=`, `?status=`,
    /// `?per_page=` (400 when it is not a whole number from 0 to 2^31-1),
    /// `?next_token=` and `?reverse=` (400 when not a Go boolean).
    pub fn list(&self) -> Result<ordu::ListOptions, BadParam> {
        let none = ListParams::default();
        let l = self.list.as_deref().unwrap_or(&none);
        let per_page = match l.per_page.as_deref() {
            None | Some("") => 0,
            Some(s) => ordu::params::parse_per_page(s).map_err(BadParam)?,
        };
        let text = |v: &Option<Box<str>>| v.as_deref().unwrap_or("").to_string();
        Ok(ordu::ListOptions {
            prefix: self.prefix().to_string(),
            job: text(&l.job),
            status: text(&l.status),
            per_page,
            next_token: text(&l.next_token),
            reverse: flag("reverse", l.reverse.as_deref())?,
        })
    }

    /// `?purge=`: as [`Params::all`].
    pub fn purge(&self) -> Result<bool, BadParam> {
        flag(
            "purge",
            self.write.as_deref().and_then(|w| w.purge.as_deref()),
        )
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(p.namespace(), None);
        assert_eq!(p.namespace_or_default(), "default");
        assert!(p.pretty());
        let p = Params::parse(Some("namespace=team-a&namespace=b"));
        assert_eq!(p.namespace(), Some("team-a"));
        assert_eq!(Params::parse(Some("namespace=%2A")).namespace(), Some("*"));
        assert_eq!(Params::parse(Some("namespace=")).namespace(), None);
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

        let l = Params::parse(Some(
            "per_page=5&next_token=3.x&reverse=true&job=j&status=s",
        ))
        .list()
        .unwrap();
        assert_eq!((l.per_page, l.reverse), (5, true));
        assert_eq!((l.next_token.as_str(), l.job.as_str()), ("3.x", "j"));
        assert_eq!(l.status, "s");
        assert_eq!(Params::parse(None).list(), Ok(ordu::ListOptions::all()));
        for bad in ["per_page=-1", "per_page=x", "reverse=maybe"] {
            assert!(Params::parse(Some(bad)).list().is_err(), "{bad}");
        }
    }
}

//! Lists with paging, as Nomad 1.x serves them: `prefix` and the other
//! filters, `per_page`, `next_token` and `reverse`.
//!
//! Orders and tokens are Nomad's (its `nomad/state/paginator` tokenizers):
//!
//! | list | order | token |
//! |---|---|---|
//! | jobs | namespace, then ID | `<Namespace>.<ID>` |
//! | nodes | ID | `<ID>` |
//! | evaluations, allocations | `CreateIndex`, then ID | `<CreateIndex>.<ID>` |
//! | evaluations, allocations with `prefix` | ID | `<ID>` |
//!
//! The token is the key of the first item of the next page, so a page
//! starts at the first item at or after it (at or before it with
//! `reverse`): an item removed between two pages does not make the walk
//! fail. Unlike Nomad, which compares tokens as strings (so `10.x` sorts
//! before `9.x`), a token is compared as the key it encodes.
//!
//! A page costs about its own size, not the table's: jobs and nodes are
//! ordered maps, and evaluations and allocations keep an ordered set of
//! `(CreateIndex, ID)` beside their hashed tables. A `prefix`, `job` or
//! `status` filter narrows what is walked where an index allows (a job's
//! evaluations and allocations) and otherwise filters the walk; a prefix on
//! evaluations or allocations, which Nomad answers in ID order, scans the
//! table (IDs are random UUIDs, so a short prefix matches few).

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use super::State;
use crate::error::{Error, FieldError, Result, Stage};
use crate::structs::{
    job_key, AllocListStub, Allocation, Evaluation, Job, JobListStub, Node, NodeListStub,
    ANY_NAMESPACE,
};

/// What part of a list a read asks for, and its filters: the query
/// parameters of Nomad's list endpoints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Only items whose ID starts with this (`?prefix=`).
    pub prefix: String,
    /// Evaluations and allocations only: only those of this job (`?job=`;
    /// empty: every job).
    pub job: String,
    /// Evaluations and allocations only: only those with this `Status`
    /// (evaluations) or `ClientStatus` (allocations) (`?status=`; empty:
    /// any).
    pub status: String,
    /// At most this many items (`?per_page=`; 0: all of them).
    pub per_page: u32,
    /// Start at the item this token names (`?next_token=`, as a previous
    /// page's [`Page::next_token`] gave it; empty: at the first).
    pub next_token: String,
    /// Walk the list from its end (`?reverse=true`).
    pub reverse: bool,
}

impl ListOptions {
    /// Every item, unfiltered, in order (what the lists without paging
    /// answer).
    pub fn all() -> Self {
        Self::default()
    }
}

/// One page of a list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// The token of the next page's first item, when there are more (what
    /// front ends answer as `X-Nomad-NextToken`).
    pub next_token: Option<String>,
}

fn bad_token(token: &str, want: &str) -> Error {
    Error::Invalid {
        stage: Stage::Decode,
        errors: vec![FieldError::new(
            "next_token",
            format!("{token:?} is not a token of this list: want {want}"),
        )],
    }
}

/// Takes a page of `per_page` items (0: all) from `items`, with the token of
/// the item after it.
fn page<'a, S: 'a, T>(
    mut items: impl Iterator<Item = &'a S>,
    per_page: u32,
    token: impl Fn(&S) -> String,
    out: impl Fn(&S) -> T,
) -> Page<T> {
    let mut page = Page {
        items: Vec::new(),
        next_token: None,
    };
    let limit = if per_page == 0 {
        usize::MAX
    } else {
        per_page as usize
    };
    for item in items.by_ref() {
        if page.items.len() == limit {
            page.next_token = Some(token(item));
            break;
        }
        page.items.push(out(item));
    }
    page
}

/// The smallest string above every string that starts with `prefix`, when
/// there is one: its last character that can grow, grown, and what follows
/// it dropped.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(c) = chars.pop() {
        let next = match c {
            '\u{d7ff}' => Some('\u{e000}'),
            c => char::from_u32(c as u32 + 1),
        };
        if let Some(n) = next {
            chars.push(n);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The items of an ID-ordered map whose ID starts with `prefix`, from the
/// one at `token` on (down to it with `reverse`).
fn by_id<'a, V>(
    map: &'a BTreeMap<String, V>,
    prefix: &str,
    token: Option<&str>,
    reverse: bool,
) -> Box<dyn Iterator<Item = &'a V> + 'a> {
    let end = prefix_end(prefix);
    let lo = match token {
        Some(t) if !reverse => prefix.max(t),
        _ => prefix,
    };
    let upper = match (token, end.as_deref()) {
        // With `reverse` the token's own item is in the page, when it has
        // the prefix.
        (Some(t), e) if reverse && e.is_none_or(|e| t < e) => Bound::Included(t),
        (_, Some(e)) => Bound::Excluded(e),
        (_, None) => Bound::Unbounded,
    };
    let empty = match upper {
        Bound::Included(h) => lo > h,
        Bound::Excluded(h) => lo >= h,
        Bound::Unbounded => false,
    };
    if empty {
        return Box::new(std::iter::empty());
    }
    let range = map
        .range::<str, _>((Bound::Included(lo), upper))
        .map(|(_, v)| v);
    if reverse {
        Box::new(range.rev())
    } else {
        Box::new(range)
    }
}

/// `(CreateIndex, ID)` from a `<CreateIndex>.<ID>` token.
fn create_token(token: &str) -> Result<(u64, String)> {
    token
        .split_once('.')
        .and_then(|(i, id)| Some((crate::params::parse_index(i)?, id.to_string())))
        .ok_or_else(|| bad_token(token, "<CreateIndex>.<ID>"))
}

/// The entries of a `(CreateIndex, ID)` set from the token's on (down to it
/// with `reverse`).
fn by_create<'a>(
    set: &'a BTreeSet<(u64, String)>,
    token: Option<(u64, String)>,
    reverse: bool,
) -> Box<dyn Iterator<Item = &'a (u64, String)> + 'a> {
    match (token, reverse) {
        (None, false) => Box::new(set.iter()),
        (None, true) => Box::new(set.iter().rev()),
        (Some(t), false) => Box::new(set.range(t..)),
        (Some(t), true) => Box::new(set.range(..=t).rev()),
    }
}

/// An object with an ID and a create index: an evaluation or an allocation.
trait Created {
    fn id(&self) -> &str;
    fn create_index(&self) -> u64;
    fn job_id(&self) -> &str;
    fn namespace(&self) -> &str;
    fn has_status(&self, status: &str) -> bool;
}

impl Created for Evaluation {
    fn id(&self) -> &str {
        &self.id
    }
    fn create_index(&self) -> u64 {
        self.create_index
    }
    fn job_id(&self) -> &str {
        &self.job_id
    }
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn has_status(&self, status: &str) -> bool {
        self.status == status
    }
}

impl Created for Allocation {
    fn id(&self) -> &str {
        &self.id
    }
    fn create_index(&self) -> u64 {
        self.create_index
    }
    fn job_id(&self) -> &str {
        &self.job_id
    }
    fn namespace(&self) -> &str {
        &self.namespace
    }
    fn has_status(&self, status: &str) -> bool {
        self.client_status == status
    }
}

/// Where `x` is in the order of the unfiltered list.
fn at<T: Created>(x: &T) -> (u64, &str) {
    (x.create_index(), x.id())
}

/// A page of evaluations or allocations of `namespace` (`*`: every one):
/// `table` by ID, `ordered` its `(CreateIndex, ID)` set, `of_job` the IDs
/// of one job's.
fn created_page<T: Created, O>(
    table: &std::collections::HashMap<String, Arc<T>>,
    ordered: &BTreeSet<(u64, String)>,
    of_job: impl Fn(&str) -> Vec<Arc<T>>,
    namespace: &str,
    opts: &ListOptions,
    out: impl Fn(&Arc<T>) -> O,
) -> Result<Page<O>> {
    let every = namespace == ANY_NAMESPACE;
    let keep = |x: &T| {
        x.id().starts_with(&opts.prefix)
            && (every || x.namespace() == namespace)
            && (opts.job.is_empty() || x.job_id() == opts.job)
            && (opts.status.is_empty() || x.has_status(&opts.status))
    };
    // A job's index is by namespace: across all of them, filter the walk.
    let by_job = !opts.job.is_empty() && !every;
    let token = (!opts.next_token.is_empty()).then_some(opts.next_token.as_str());
    if !opts.prefix.is_empty() {
        // Nomad's order for a prefix: by ID, the token the ID.
        let from_job;
        let mut found: Vec<&Arc<T>> = if !by_job {
            table.values().filter(|x| keep(x)).collect()
        } else {
            from_job = of_job(&opts.job);
            from_job.iter().filter(|x| keep(x)).collect()
        };
        found.sort_unstable_by(|a, b| a.id().cmp(b.id()));
        let items: Box<dyn Iterator<Item = &&Arc<T>>> = match (token, opts.reverse) {
            (None, false) => Box::new(found.iter()),
            (None, true) => Box::new(found.iter().rev()),
            (Some(t), false) => {
                let s = found.partition_point(|x| x.id() < t);
                Box::new(found[s..].iter())
            }
            (Some(t), true) => {
                let s = found.partition_point(|x| x.id() <= t);
                Box::new(found[..s].iter().rev())
            }
        };
        return Ok(page(
            items,
            opts.per_page,
            |x| x.id().to_string(),
            |x| out(x),
        ));
    }
    let token = token.map(create_token).transpose()?;
    let key = |x: &T| format!("{}.{}", x.create_index(), x.id());
    if by_job {
        // A job's own are few next to the table: sort them.
        let mut found: Vec<Arc<T>> = of_job(&opts.job).into_iter().filter(|x| keep(x)).collect();
        found.sort_unstable_by(|a, b| at(&**a).cmp(&at(&**b)));
        let items: Box<dyn Iterator<Item = &Arc<T>>> = match (&token, opts.reverse) {
            (None, false) => Box::new(found.iter()),
            (None, true) => Box::new(found.iter().rev()),
            (Some((i, id)), false) => {
                let s = found.partition_point(|x| at(&**x) < (*i, id.as_str()));
                Box::new(found[s..].iter())
            }
            (Some((i, id)), true) => {
                let s = found.partition_point(|x| at(&**x) <= (*i, id.as_str()));
                Box::new(found[..s].iter().rev())
            }
        };
        return Ok(page(items, opts.per_page, |x| key(x), |x| out(x)));
    }
    let items = by_create(ordered, token, opts.reverse)
        .map(|(_, id)| &table[id])
        .filter(|x| keep(x));
    Ok(page(items, opts.per_page, |x| key(x), |x| out(x)))
}

impl State {
    /// A page of the job list (stubs), in ID order; the token is
    /// `<Namespace>.<ID>` of the next page's first job, as Nomad's. A token
    /// without a `.` is an invalid-request error.
    pub fn job_page(&self, namespace: &str, opts: &ListOptions) -> Result<Page<JobListStub>> {
        let token = match opts.next_token.as_str() {
            "" => None,
            // Namespaces have no `.`: the ID is what follows the first.
            t => Some(
                t.split_once('.')
                    .map(|(ns, id)| job_key(ns, id))
                    .ok_or_else(|| bad_token(t, "<Namespace>.<ID>"))?,
            ),
        };
        // The table is by namespace, then ID: one namespace's jobs with the
        // prefix are the keys with the prefix `<namespace>\0<prefix>`.
        let every = namespace == ANY_NAMESPACE;
        let prefix = if every {
            String::new()
        } else {
            job_key(namespace, &opts.prefix)
        };
        let items = by_id(&self.jobs, &prefix, token.as_deref(), opts.reverse)
            .filter(|j| !every || j.id.starts_with(&opts.prefix));
        Ok(page(
            items,
            opts.per_page,
            |j: &Arc<Job>| format!("{}.{}", j.namespace, j.id),
            |j| j.stub(),
        ))
    }

    /// A page of the node list (stubs), in ID order; the token is the next
    /// page's first node ID, as Nomad's.
    pub fn node_page(&self, opts: &ListOptions) -> Result<Page<NodeListStub>> {
        let token = (!opts.next_token.is_empty()).then_some(opts.next_token.as_str());
        let items = by_id(&self.nodes, &opts.prefix, token, opts.reverse);
        Ok(page(
            items,
            opts.per_page,
            |n: &Arc<Node>| n.id.clone(),
            |n| n.stub(),
        ))
    }

    /// A page of every evaluation (full objects), filtered by ID prefix,
    /// job and status, in the order and with the token of the module's
    /// table. A token of the wrong form is an invalid-request error.
    pub fn eval_page(&self, namespace: &str, opts: &ListOptions) -> Result<Page<Arc<Evaluation>>> {
        created_page(
            &self.evals,
            &self.derived.evals_by_create,
            |job| self.evals_by_job(namespace, job),
            namespace,
            opts,
            Arc::clone,
        )
    }

    /// A page of every allocation (list stubs), filtered by ID prefix, job
    /// and client status, as [`State::eval_page`].
    pub fn alloc_page(&self, namespace: &str, opts: &ListOptions) -> Result<Page<AllocListStub>> {
        created_page(
            &self.allocs,
            &self.derived.allocs_by_create,
            |job| self.allocs_by_job(namespace, job),
            namespace,
            opts,
            |a| a.stub(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("a\u{10ffff}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{d7ff}").as_deref(), Some("\u{e000}"));
        assert_eq!(prefix_end("\u{10ffff}"), None);
    }

    #[test]
    fn ranges_by_id() {
        let map: BTreeMap<String, u32> = ["a", "ab", "abc", "b", "ba", "c"]
            .iter()
            .enumerate()
            .map(|(i, k)| (k.to_string(), i as u32))
            .collect();
        let ids = |prefix: &str, token: Option<&str>, reverse: bool| -> Vec<u32> {
            by_id(&map, prefix, token, reverse).copied().collect()
        };
        assert_eq!(ids("", None, false), [0, 1, 2, 3, 4, 5]);
        assert_eq!(ids("a", None, false), [0, 1, 2]);
        assert_eq!(ids("a", None, true), [2, 1, 0]);
        assert_eq!(ids("a", Some("ab"), false), [1, 2]);
        assert_eq!(ids("a", Some("ab"), true), [1, 0]);
        assert_eq!(ids("b", Some("a"), false), [3, 4]);
        assert_eq!(ids("b", Some("a"), true), Vec::<u32>::new());
        assert_eq!(ids("b", Some("zz"), true), [4, 3]);
        assert_eq!(ids("", Some("bb"), false), [5]);
        assert_eq!(ids("", Some("bb"), true), [4, 3, 2, 1, 0]);
        assert_eq!(ids("a", Some("b"), true), [2, 1, 0]);
        assert_eq!(ids("a", Some("b"), false), Vec::<u32>::new());
    }

    #[test]
    fn create_tokens() {
        assert_eq!(create_token("12.ab.c").unwrap(), (12, "ab.c".to_string()));
        for bad in ["", "12", "x.ab", "-1.ab"] {
            let e = create_token(bad).unwrap_err();
            assert_eq!(e.field_errors()[0].path, "next_token");
        }
    }
}

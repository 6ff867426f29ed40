//! Lists with paging (issue 15, point 6): every evaluation and every
//! allocation, with `prefix`, `job` and `status`; `per_page`, `next_token`
//! and `reverse` on the job, node, evaluation and allocation lists, in
//! Nomad's orders and token forms; blocking reads on the new lists.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ordu::structs::AllocClientUpdate;
use ordu::{ErrorKind, ListOptions, Page, Store};
use proptest::prelude::*;
use support::*;

/// Walks a list page by page (`per_page` items each), checking that every
/// page but the last is full and carries a token, and answers every item.
fn walk<T: Clone>(
    per_page: u32,
    base: &ListOptions,
    read: impl Fn(&ListOptions) -> Page<T>,
) -> Vec<T> {
    let mut opts = ListOptions {
        per_page,
        ..base.clone()
    };
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let page = read(&opts);
        assert!(page.items.len() <= per_page as usize);
        out.extend(page.items.iter().cloned());
        match page.next_token {
            Some(t) => {
                assert_eq!(page.items.len(), per_page as usize, "a short page has more");
                opts.next_token = t;
            }
            None => return out,
        }
    }
    panic!("the walk does not end");
}

/// A store with jobs, nodes, evaluations and allocations: `jobs` jobs (IDs
/// made to share prefixes), one node per three jobs, each job's evaluations
/// from its register and an evaluate, and allocations placed by plans of a
/// few at one index (so IDs break create-index ties).
fn populated(jobs: usize) -> Store {
    let store = manual_store();
    for n in 0..jobs.div_ceil(3) {
        add_node(&store, &format!("node-{n:02}"));
    }
    for j in 0..jobs {
        let id = format!("{}-{j}", ["web", "api", "w"][j % 3]);
        register(&store, &job(&id, 3)).unwrap();
        if j % 2 == 0 {
            store.evaluate_job(&id, &Default::default()).unwrap();
        }
        let allocs: Vec<(String, usize)> = (0..(j % 4))
            // Not in creation order, so ties are broken by ID.
            .map(|i| (format!("{:x}-{j}", 15 - i), i))
            .collect();
        let allocs: Vec<(&str, usize)> = allocs.iter().map(|(a, i)| (a.as_str(), *i)).collect();
        if !allocs.is_empty() {
            place(&store, &id, &format!("node-{:02}", j / 3), &allocs);
        }
    }
    store
}

fn evals(store: &Store, opts: &ListOptions) -> Page<Arc<ordu::structs::Evaluation>> {
    store.evaluations(opts, &now()).unwrap().value
}
fn allocs(store: &Store, opts: &ListOptions) -> Page<ordu::structs::AllocListStub> {
    store.allocations(opts, &now()).unwrap().value
}
fn jobs(store: &Store, opts: &ListOptions) -> Page<ordu::structs::JobListStub> {
    store.jobs_page(opts, &now()).unwrap().value
}
fn nodes(store: &Store, opts: &ListOptions) -> Page<ordu::structs::NodeListStub> {
    store.nodes_page(opts, &now()).unwrap().value
}

fn eval_keys(items: &[Arc<ordu::structs::Evaluation>]) -> Vec<(u64, String)> {
    items
        .iter()
        .map(|e| (e.create_index, e.id.clone()))
        .collect()
}
fn alloc_keys(items: &[ordu::structs::AllocListStub]) -> Vec<(u64, String)> {
    items
        .iter()
        .map(|a| (a.create_index, a.id.clone()))
        .collect()
}

fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
    let mut s = v.to_vec();
    s.sort();
    s
}

fn reversed<T: Clone>(v: &[T]) -> Vec<T> {
    v.iter().rev().cloned().collect()
}

#[test]
fn whole_lists_are_in_nomads_orders() {
    let store = populated(12);
    let all = ListOptions::all();
    let e = eval_keys(&evals(&store, &all).items);
    assert_eq!(e.len(), store.with_state(|s| s.eval_count()));
    assert_eq!(e, sorted(&e), "evaluations by CreateIndex, then ID");
    let a = alloc_keys(&allocs(&store, &all).items);
    assert_eq!(a.len(), store.with_state(|s| s.alloc_count()));
    assert_eq!(a, sorted(&a), "allocations by CreateIndex, then ID");
    assert!(
        a.windows(2).any(|w| w[0].0 == w[1].0),
        "some share a create index"
    );
    let j: Vec<String> = jobs(&store, &all).items.into_iter().map(|j| j.id).collect();
    assert_eq!(j, sorted(&j));
    assert_eq!(j.len(), 12);
    let n: Vec<String> = nodes(&store, &all)
        .items
        .into_iter()
        .map(|n| n.id)
        .collect();
    assert_eq!(n, sorted(&n));
    // Nothing past the end: no token.
    assert_eq!(evals(&store, &all).next_token, None);
    // Reverse is the same list backwards.
    let rev = ListOptions {
        reverse: true,
        ..ListOptions::all()
    };
    assert_eq!(eval_keys(&evals(&store, &rev).items), reversed(&e));
    assert_eq!(alloc_keys(&allocs(&store, &rev).items), reversed(&a));
    let jr: Vec<String> = jobs(&store, &rev).items.into_iter().map(|j| j.id).collect();
    assert_eq!(jr, reversed(&j));
}

#[test]
fn tokens_have_nomads_forms() {
    let store = populated(6);
    let one = ListOptions {
        per_page: 1,
        ..ListOptions::all()
    };
    let all = ListOptions::all();
    let second = evals(&store, &all).items[1].clone();
    assert_eq!(
        evals(&store, &one).next_token,
        Some(format!("{}.{}", second.create_index, second.id))
    );
    let second = allocs(&store, &all).items[1].clone();
    assert_eq!(
        allocs(&store, &one).next_token,
        Some(format!("{}.{}", second.create_index, second.id))
    );
    let second = jobs(&store, &all).items[1].clone();
    assert_eq!(
        jobs(&store, &one).next_token,
        Some(format!("default.{}", second.id))
    );
    assert_eq!(nodes(&store, &one).next_token, Some("node-01".to_string()));
    // With a prefix, evaluations and allocations are in ID order and the
    // token is the ID, as Nomad's.
    let p = ListOptions {
        prefix: "0".into(),
        per_page: 1,
        ..ListOptions::all()
    };
    let by_id = evals(
        &store,
        &ListOptions {
            per_page: 0,
            ..p.clone()
        },
    )
    .items;
    assert!(by_id.windows(2).all(|w| w[0].id < w[1].id));
    assert_eq!(evals(&store, &p).next_token, Some(by_id[1].id.clone()));
}

#[test]
fn a_token_of_the_wrong_form_is_a_400() {
    let store = populated(3);
    for (bad, read) in [
        ("nodot", 0),
        ("x.y", 0),
        ("12", 1),
        ("web-0", 2), // a job token is <Namespace>.<ID>
    ] {
        let opts = ListOptions {
            next_token: bad.into(),
            ..ListOptions::all()
        };
        let err = match read {
            0 => store.evaluations(&opts, &now()).unwrap_err(),
            1 => store.allocations(&opts, &now()).unwrap_err(),
            _ => store.jobs_page(&opts, &now()).unwrap_err(),
        };
        assert_eq!(err.kind(), ErrorKind::Invalid, "{bad}");
        assert_eq!(err.http_status(false), 400, "{bad}");
        assert_eq!(err.field_errors()[0].path, "next_token");
    }
    // A node token is any ID; one past the end is an empty page.
    let opts = ListOptions {
        next_token: "zzz".into(),
        ..ListOptions::all()
    };
    assert!(nodes(&store, &opts).items.is_empty());
}

#[test]
fn filters_by_prefix_job_and_status() {
    let store = populated(12);
    let all = ListOptions::all();
    let every = evals(&store, &all).items;
    let of_web0 = ListOptions {
        job: "web-0".into(),
        ..ListOptions::all()
    };
    let got = evals(&store, &of_web0).items;
    assert_eq!(got.len(), 2, "its register and its evaluate");
    assert!(got.iter().all(|e| e.job_id == "web-0"));
    assert_eq!(
        eval_keys(&got),
        eval_keys(
            &every
                .iter()
                .filter(|e| e.job_id == "web-0")
                .cloned()
                .collect::<Vec<_>>()
        )
    );
    let pending = ListOptions {
        status: "pending".into(),
        ..ListOptions::all()
    };
    let got = evals(&store, &pending).items;
    assert_eq!(
        got.len(),
        every.iter().filter(|e| e.status == "pending").count()
    );
    let none = ListOptions {
        status: "complete".into(),
        job: "web-0".into(),
        ..ListOptions::all()
    };
    assert!(evals(&store, &none).items.is_empty());

    let e0 = &every[0].id;
    let prefix = ListOptions {
        prefix: e0[..e0.len() - 1].to_string(),
        ..ListOptions::all()
    };
    let got = evals(&store, &prefix).items;
    assert!(got.iter().any(|e| &e.id == e0));
    assert!(got.iter().all(|e| e.id.starts_with(&prefix.prefix)));

    // Allocations: prefix on the ID, job, and ClientStatus.
    let every = allocs(&store, &all).items;
    let prefix = ListOptions {
        prefix: "f-".into(),
        ..ListOptions::all()
    };
    let got = allocs(&store, &prefix).items;
    assert_eq!(
        got.len(),
        every.iter().filter(|a| a.id.starts_with("f-")).count()
    );
    assert!(got.windows(2).all(|w| w[0].id < w[1].id), "in ID order");
    let of_job = ListOptions {
        job: "w-11".into(),
        ..ListOptions::all()
    };
    assert_eq!(allocs(&store, &of_job).items.len(), 3);
    let id = every[0].id.clone();
    store
        .update_alloc_client(AllocClientUpdate {
            id: id.clone(),
            client_status: "running".into(),
            ..AllocClientUpdate::default()
        })
        .unwrap();
    let running = ListOptions {
        status: "running".into(),
        ..ListOptions::all()
    };
    let got = allocs(&store, &running).items;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].id, id);
}

#[test]
fn a_page_starts_at_its_token_even_when_that_item_is_gone() {
    let store = populated(9);
    let one = ListOptions {
        per_page: 2,
        ..ListOptions::all()
    };
    let first = allocs(&store, &one);
    let token = first.next_token.clone().unwrap();
    let every = allocs(&store, &ListOptions::all()).items;
    // The token's allocation is collected (its job is gone, it is terminal).
    let gone = &every[2];
    let job_id = gone.job_id.clone();
    store
        .update_alloc_client(AllocClientUpdate {
            id: gone.id.clone(),
            client_status: "failed".into(),
            ..AllocClientUpdate::default()
        })
        .unwrap();
    store.deregister_job(&job_id, &Default::default()).unwrap();
    store.garbage_collect(i64::MAX).unwrap();
    assert!(
        store.with_state(|s| s.alloc(&gone.id).is_none()),
        "collected"
    );
    let next = allocs(
        &store,
        &ListOptions {
            next_token: token,
            ..one.clone()
        },
    );
    let left: Vec<_> = every[3..]
        .iter()
        .filter(|a| store.with_state(|s| s.alloc(&a.id).is_some()))
        .map(|a| a.id.clone())
        .collect();
    let got: Vec<_> = next.items.iter().map(|a| a.id.clone()).collect();
    assert_eq!(got, left[..got.len()].to_vec());
}

#[test]
fn lists_survive_a_snapshot_and_restore() {
    let store = populated(10);
    let bytes = snapshot(&store);
    let other = manual_store();
    other.restore_snapshot(&bytes).unwrap();
    for per_page in [0, 1, 3] {
        let o = ListOptions {
            per_page,
            ..ListOptions::all()
        };
        assert_eq!(evals(&store, &o), evals(&other, &o));
        assert_eq!(allocs(&store, &o), allocs(&other, &o));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Paging walks every item exactly once, in the list's order, for any
    /// page size, either way, with or without filters.
    #[test]
    fn paging_walks_every_item_once_in_order(
        jobs_n in 0usize..16,
        per_page in 1u32..7,
        reverse in any::<bool>(),
        filter in 0usize..4,
    ) {
        let store = populated(jobs_n);
        let base = ListOptions {
            reverse,
            prefix: if filter == 1 { "0".into() } else { String::new() },
            job: if filter == 2 { "web-3".into() } else { String::new() },
            status: if filter == 3 { "pending".into() } else { String::new() },
            ..ListOptions::all()
        };
        let whole = evals(&store, &base).items;
        let paged = walk(per_page, &base, |o| evals(&store, o));
        prop_assert_eq!(eval_keys(&paged), eval_keys(&whole));
        let whole = allocs(&store, &base).items;
        let paged = walk(per_page, &base, |o| allocs(&store, o));
        prop_assert_eq!(alloc_keys(&paged), alloc_keys(&whole));

        let base = ListOptions {
            reverse,
            prefix: ["", "w", "web-", "api-1"][filter].into(),
            ..ListOptions::all()
        };
        let whole = jobs(&store, &base).items;
        prop_assert!(whole.iter().all(|j| j.id.starts_with(&base.prefix)));
        prop_assert_eq!(walk(per_page, &base, |o| jobs(&store, o)), whole);
        let whole = nodes(&store, &base).items;
        prop_assert_eq!(walk(per_page, &base, |o| nodes(&store, o)), whole);
    }
}

const LONG: Duration = Duration::from_secs(20);

#[test]
fn the_evaluation_list_blocks_until_an_evaluation_changes() {
    let store = Arc::new(populated(3));
    let all = ListOptions::all();
    let at = store.evaluations(&all, &now()).unwrap().meta.index;
    assert_eq!(at, store.with_state(|s| s.evals_index()));
    // A node without work writes no evaluation: the list does not move.
    add_node(&store, "quiet");
    let short = after(at, Duration::from_millis(150));
    let q = store.evaluations(&all, &short).unwrap();
    assert_eq!(q.meta.index, at, "timed out at the same index");
    // An evaluation write wakes it.
    let w = {
        let store = store.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            store.evaluate_job("web-0", &Default::default()).unwrap();
        })
    };
    let start = Instant::now();
    let q = store.evaluations(&all, &after(at, LONG)).unwrap();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(q.meta.index > at);
    assert_eq!(q.value.items.len(), evals(&store, &all).items.len());
    w.join().unwrap();
}

#[test]
fn the_allocation_list_blocks_until_an_allocation_changes() {
    let store = Arc::new(populated(4));
    let all = ListOptions::all();
    let q = store.allocations(&all, &now()).unwrap();
    let at = q.meta.index;
    assert_eq!(at, store.with_state(|s| s.allocs_index()));
    let id = q.value.items[0].id.clone();
    let w = {
        let store = store.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            store
                .update_alloc_client(AllocClientUpdate {
                    id,
                    client_status: "running".into(),
                    ..AllocClientUpdate::default()
                })
                .unwrap();
        })
    };
    let (q, _) =
        block_on(store.wait_async(ordu::reads::allocations("default", &all), &after(at, LONG)));
    let q = q.unwrap();
    assert!(q.meta.index > at);
    assert!(q.value.items.iter().any(|a| a.client_status == "running"));
    w.join().unwrap();
}

#[test]
fn job_and_node_pages_block_as_their_lists() {
    let store = Arc::new(populated(3));
    let page = ListOptions {
        per_page: 1,
        ..ListOptions::all()
    };
    let at = store.jobs_page(&page, &now()).unwrap().meta.index;
    assert_eq!(at, store.jobs("", &now()).unwrap().meta.index);
    let w = {
        let store = store.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            register(&store, &job("zzz", 1)).unwrap();
        })
    };
    let q = store.jobs_page(&page, &after(at, LONG)).unwrap();
    assert!(q.meta.index > at);
    w.join().unwrap();
    let at = store.nodes_page(&page, &now()).unwrap().meta.index;
    assert_eq!(at, store.nodes("", &now()).unwrap().meta.index);
}

//! Jobs as Python objects, made once per version of a job and copied for
//! each get after that.
//!
//! A job in the store is shared (`Arc<Job>`) and never changed in place: a
//! write puts a new `Arc` in its place. So the Python value a get made for one
//! `Arc` is right for every later get that finds the same `Arc`. What a get
//! returns is the caller's to change, so it is a copy: each dict and list of
//! the tree is copied (a dict by `PyDict_Copy`, which copies the table as it
//! is, without hashing or probing), and the nested containers are put into
//! their copied parents; strings, numbers, booleans and None are immutable and
//! shared. This is far cheaper than converting the job again
//! (docs/benchmarks.md), where most of the cost is inserting its keys into
//! fresh dicts.
//!
//! A `Store` keeps the values of at most [`SLOTS`] jobs of at most
//! [`MAX_ITEMS`] items each, one to a slot by the address of the job's
//! allocation, from the second get of a job on (a job read once, among many
//! read in turn, is converted and nothing more). A slot holds a `Weak` to the job: it keeps
//! the allocation (not the job's contents) from being freed, so its address
//! cannot be reused by another job while the slot remembers it.

use std::sync::{Mutex, Weak};

use ordu::structs::Job;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::topy;

/// Jobs whose Python values one store keeps.
pub const SLOTS: usize = 64;

/// Most items (dict entries and list items, at every depth) of a job whose
/// value is kept: a job's task configs may be large, and 64 of them should
/// not pin a large share of memory. The seed job has about 160.
pub const MAX_ITEMS: usize = 4096;

/// A value over [`MAX_ITEMS`].
struct TooBig;

/// One container of a converted value, with its nested containers.
enum Tree {
    /// A dict and, by key, its values that are dicts or lists.
    Dict(Py<PyDict>, Vec<(Py<PyAny>, Tree)>),
    /// A list and, by position, its items that are dicts or lists.
    List(Py<PyList>, Vec<(usize, Tree)>),
}

impl Tree {
    /// The tree of `value` if it is a dict or a list of at most
    /// `budget` items in all (the items of nested containers included),
    /// taking its containers as they are (the caller keeps no other
    /// reference to them). `Err` once the budget is spent.
    fn of(value: &Bound<'_, PyAny>, budget: &mut usize) -> Result<Option<Tree>, TooBig> {
        if let Ok(d) = value.cast_exact::<PyDict>() {
            *budget = budget.checked_sub(d.len()).ok_or(TooBig)?;
            let mut nested = Vec::new();
            for (k, v) in d.iter() {
                if let Some(t) = Tree::of(&v, budget)? {
                    nested.push((k.unbind(), t));
                }
            }
            Ok(Some(Tree::Dict(d.clone().unbind(), nested)))
        } else if let Ok(l) = value.cast_exact::<PyList>() {
            *budget = budget.checked_sub(l.len()).ok_or(TooBig)?;
            let mut nested = Vec::new();
            for (i, v) in l.iter().enumerate() {
                if let Some(t) = Tree::of(&v, budget)? {
                    nested.push((i, t));
                }
            }
            Ok(Some(Tree::List(l.clone().unbind(), nested)))
        } else {
            Ok(None)
        }
    }

    /// A deep copy: new containers all through, the same leaves.
    fn copy<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Tree::Dict(d, nested) => {
                let copy = d.bind(py).copy()?;
                for (k, t) in nested {
                    copy.set_item(k.bind(py), t.copy(py)?)?;
                }
                Ok(copy.into_any())
            }
            Tree::List(l, nested) => {
                let l = l.bind(py);
                let copy = l.get_slice(0, l.len());
                for (i, t) in nested {
                    copy.set_item(*i, t.copy(py)?)?;
                }
                Ok(copy.into_any())
            }
        }
    }
}

struct Slot {
    job: Weak<Job>,
    held: Held,
}

/// What a slot holds of its job.
enum Held {
    /// Converted once: the tree is made at the second get, so a job read
    /// once (one of many read in turn) costs one conversion, not a
    /// conversion, a walk and a copy.
    Seen,
    Tree(Tree),
    /// Over [`MAX_ITEMS`]: converted at every get.
    TooBig,
}

/// The Python values of up to [`SLOTS`] jobs (see the module's text).
pub struct Jobs {
    slots: Mutex<Vec<Option<Slot>>>,
}

impl Default for Jobs {
    fn default() -> Self {
        Jobs {
            slots: Mutex::new((0..SLOTS).map(|_| None).collect()),
        }
    }
}

impl Jobs {
    /// `job` as Python objects: a copy of what an earlier call made for this
    /// same `Arc`, else converted now.
    pub fn to_py<'py>(
        &self,
        py: Python<'py>,
        job: &std::sync::Arc<Job>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let at = std::sync::Arc::as_ptr(job);
        let n = (at as usize >> 4) % SLOTS;
        // `try_lock`: a finaliser that the garbage collector runs while a
        // copy allocates may get a job again; it converts without the slots.
        let Ok(mut slots) = self.slots.try_lock() else {
            return topy::to_py(py, &**job);
        };
        let seen = match &slots[n] {
            Some(slot) if std::ptr::eq(slot.job.as_ptr(), at) => match &slot.held {
                Held::Tree(tree) => return tree.copy(py),
                Held::TooBig => return topy::to_py(py, &**job),
                Held::Seen => true,
            },
            _ => false,
        };
        let value = topy::to_py(py, &**job)?;
        let job = std::sync::Arc::downgrade(job);
        if !seen {
            slots[n] = Some(Slot {
                job,
                held: Held::Seen,
            });
            return Ok(value);
        }
        // The second get: this value becomes the one copied from now on.
        let mut budget = MAX_ITEMS;
        let Ok(Some(tree)) = Tree::of(&value, &mut budget) else {
            slots[n] = Some(Slot {
                job,
                held: Held::TooBig,
            });
            return Ok(value);
        };
        let copy = tree.copy(py)?;
        slots[n] = Some(Slot {
            job,
            held: Held::Tree(tree),
        });
        Ok(copy)
    }
}

//! Namespaces: the names jobs (and their evaluations and allocations) are
//! kept apart by. A namespace is created by a write (Nomad's
//! `PUT /v1/namespace`), except `default`, which always exists.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::serde_util::null_default;
use super::DEFAULT_NAMESPACE;
use crate::error::{Error, FieldError};

/// What a list or a read of every namespace names (`?namespace=*`).
pub const ANY_NAMESPACE: &str = "*";

/// The longest description Nomad takes.
pub const MAX_NAMESPACE_DESCRIPTION: usize = 256;

/// A namespace, in Nomad's JSON names.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Namespace {
    /// 1 to 128 letters, digits and `-`.
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    /// Free text, at most [`MAX_NAMESPACE_DESCRIPTION`] bytes.
    #[serde(default, deserialize_with = "null_default")]
    pub description: String,
    /// Nomad Enterprise's quota: kept and shown, never enforced.
    #[serde(default, deserialize_with = "null_default")]
    pub quota: String,
    /// Free key-value pairs.
    #[serde(default)]
    pub meta: Option<BTreeMap<String, String>>,
    /// Index of its creation.
    #[serde(default)]
    pub create_index: u64,
    /// Index of its last change.
    #[serde(default)]
    pub modify_index: u64,
}

impl Namespace {
    /// A namespace with only a name (the implicit `default`, or one a
    /// replayed register brings back).
    pub fn named(name: &str) -> Namespace {
        Namespace {
            name: name.to_string(),
            ..Namespace::default()
        }
    }

    /// The `default` namespace as it is before any write changes it.
    pub fn default_namespace() -> Namespace {
        Namespace {
            description: "Default shared namespace".to_string(),
            ..Namespace::named(DEFAULT_NAMESPACE)
        }
    }
}

/// Whether `name` can name a namespace: 1 to 128 ASCII letters, digits and
/// `-` (Nomad's rule). `*` and anything with a NUL are so never names.
pub fn valid_namespace_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Checks a namespace a client writes.
pub fn validate_namespace(ns: &Namespace) -> Result<(), Error> {
    let mut errs = Vec::new();
    if !valid_namespace_name(&ns.name) {
        errs.push(FieldError::new(
            "Name",
            format!(
                "invalid name {:?}: 1 to 128 letters, digits and \"-\"",
                ns.name
            ),
        ));
    }
    if ns.description.len() > MAX_NAMESPACE_DESCRIPTION {
        errs.push(FieldError::new(
            "Description",
            format!(
                "description longer than {MAX_NAMESPACE_DESCRIPTION} bytes ({})",
                ns.description.len()
            ),
        ));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(Error::invalid(errs))
    }
}

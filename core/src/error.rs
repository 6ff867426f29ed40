//! The one error type of ordu, and the one table that maps its kinds to C result
//! codes, Python exceptions and HTTP statuses.

use std::fmt;

use serde::Serialize;

/// One problem with a request: where (a field path such as
/// `TaskGroups[0].Tasks[1].Driver`) and what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Path of the field, Rust-style indexes; empty for the request as a whole.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Which step rejected an invalid request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The bytes were not the JSON expected (HTTP 400).
    Decode,
    /// The value broke a rule of the model (HTTP 500, as Nomad answers).
    Validate,
}

/// The kinds of [`Error`]. The numbers are stable: the C ABI and the Python
/// module use them, and a retired number is never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// The object asked for does not exist.
    NotFound = 1,
    /// The request does not decode or breaks a rule; every problem is listed.
    Invalid = 2,
    /// A check-and-set or a broker token did not match.
    Conflict = 3,
    /// The request names a region this store does not hold.
    Region = 4,
    /// The request is over a configured bound.
    Limit = 5,
    /// The log refused the write (disk full, not the leader): nothing changed.
    Unavailable = 6,
}

/// What each binding makes of a kind: one row of the table below.
struct Row {
    name: &'static str,
    python_exception: &'static str,
    http_status: u16,
}

impl ErrorKind {
    /// Every kind, in code order.
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::NotFound,
        ErrorKind::Invalid,
        ErrorKind::Conflict,
        ErrorKind::Region,
        ErrorKind::Limit,
        ErrorKind::Unavailable,
    ];

    /// The one table from kind to what the bindings show. A binding derives
    /// its own mapping from here, so C, Python and HTTP cannot drift apart.
    const fn row(self) -> Row {
        let (name, python_exception, http_status) = match self {
            ErrorKind::NotFound => ("not_found", "NotFoundError", 500),
            ErrorKind::Invalid => ("invalid", "InvalidError", 500),
            ErrorKind::Conflict => ("conflict", "ConflictError", 500),
            ErrorKind::Region => ("region", "RegionError", 500),
            ErrorKind::Limit => ("limit", "LimitError", 400),
            ErrorKind::Unavailable => ("unavailable", "UnavailableError", 500),
        };
        Row {
            name,
            python_exception,
            http_status,
        }
    }

    /// The stable number: the `code` of the error JSON and the C result code.
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The kind with this [`code`](Self::code), if any.
    pub fn from_code(code: u32) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Stable snake_case name: the `kind` of the error JSON and the name of
    /// the C result code.
    pub const fn name(self) -> &'static str {
        self.row().name
    }

    /// The name of the Python exception class the `ordu` package raises,
    /// a subclass of `OrduError`.
    pub const fn python_exception(self) -> &'static str {
        self.row().python_exception
    }

    /// The HTTP status Nomad answers with for this kind on a write or a
    /// list. [`Error::http_status`] refines it by what the error says.
    pub const fn http_status(self) -> u16 {
        self.row().http_status
    }
}

/// The C result code of a body that did not decode: `ORDU_INVALID_JSON`, not
/// the `invalid` kind's own code, so that a C caller tells a malformed body
/// from a rule broken without reading the error JSON. 100 and up are codes of
/// the C binding, never a kind's.
pub const C_RESULT_INVALID_JSON: u32 = 102;

/// Everything that can go wrong in a store operation. Errors are data: match on
/// [`Error::kind`] and read the fields; `Display` is for people and renders the
/// text Nomad's HTTP API puts in its plain-text error bodies.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// `what` (`job`, `eval`, `alloc`, `node`) with this ID does not exist.
    /// `allocation` is an allocation a write names (an allocation stop),
    /// which reads as Nomad's `Unknown allocation "<id>"`.
    /// `index` is the index a read answers with (the table's last change).
    NotFound {
        /// The kind of object.
        what: &'static str,
        /// Its ID.
        id: String,
        /// Index of the read that did not find it.
        index: u64,
    },
    /// The request did not decode, or broke rules of the model.
    Invalid {
        /// Decoding or validation.
        stage: Stage,
        /// Every problem found, each with its path.
        errors: Vec<FieldError>,
    },
    /// A check-and-set (`EnforceIndex`) or broker token did not match.
    Conflict {
        /// Nomad's text for the mismatch.
        message: String,
        /// The current index of what was checked (the job's `JobModifyIndex`).
        current_index: u64,
    },
    /// The request names another region.
    Region {
        /// The region asked for.
        requested: String,
        /// The region this store holds.
        region: String,
    },
    /// The request is over a configured bound.
    Limit {
        /// Where (a field path, or `body`).
        path: String,
        /// The bound.
        limit: u64,
        /// What exceeded it.
        message: String,
    },
    /// The log did not commit the write (see [`crate::log::Log`]); nothing
    /// changed.
    Unavailable {
        /// The log's reason.
        message: String,
    },
}

impl Error {
    /// The kind, for code that dispatches on errors.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Invalid { .. } => ErrorKind::Invalid,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Region { .. } => ErrorKind::Region,
            Error::Limit { .. } => ErrorKind::Limit,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
        }
    }

    /// A validation failure with these problems.
    pub fn invalid(errors: Vec<FieldError>) -> Self {
        Error::Invalid {
            stage: Stage::Validate,
            errors,
        }
    }

    /// A validation failure with one problem.
    pub fn invalid_field(path: impl Into<String>, message: impl Into<String>) -> Self {
        Error::invalid(vec![FieldError::new(path, message)])
    }

    /// The field problems (empty for other kinds).
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Error::Invalid { errors, .. } => errors,
            _ => &[],
        }
    }

    /// The HTTP status Nomad answers with: the kind's
    /// ([`ErrorKind::http_status`]), except that a body that did not decode
    /// is 400, and a missing object is 404 when `lookup` is true, for reads
    /// of one object (`GET /v1/job/<id>`); elsewhere (evaluate, a node
    /// deregister) Nomad answers its RPC error with 500.
    pub fn http_status(&self, lookup: bool) -> u16 {
        match self {
            Error::NotFound { .. } if lookup => 404,
            Error::Invalid {
                stage: Stage::Decode,
                ..
            } => 400,
            _ => self.kind().http_status(),
        }
    }

    /// The C API's result code: the kind's [`code`](ErrorKind::code), except
    /// a body that did not decode, which is [`C_RESULT_INVALID_JSON`].
    pub fn c_result(&self) -> u32 {
        match self {
            Error::Invalid {
                stage: Stage::Decode,
                ..
            } => C_RESULT_INVALID_JSON,
            _ => self.kind().code(),
        }
    }

    /// The error as JSON for bindings: `{"kind", "code", "message", ...data}`.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "kind": self.kind().name(),
            "code": self.kind().code(),
            "message": self.to_string(),
        });
        let obj = v.as_object_mut().expect("object literal");
        match self {
            Error::NotFound { what, id, index } => {
                obj.insert("what".into(), (*what).into());
                obj.insert("id".into(), id.clone().into());
                obj.insert("index".into(), (*index).into());
            }
            Error::Invalid { stage, errors } => {
                obj.insert("stage".into(), serde_json::json!(stage));
                obj.insert("errors".into(), serde_json::json!(errors));
            }
            Error::Conflict { current_index, .. } => {
                obj.insert("current_index".into(), (*current_index).into());
            }
            Error::Region { requested, region } => {
                obj.insert("requested".into(), requested.clone().into());
                obj.insert("region".into(), region.clone().into());
            }
            Error::Limit { path, limit, .. } => {
                obj.insert("path".into(), path.clone().into());
                obj.insert("limit".into(), (*limit).into());
            }
            Error::Unavailable { .. } => {}
        }
        v
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // What Nomad answers an allocation stop of an unknown one.
            Error::NotFound {
                what: "allocation",
                id,
                ..
            } => write!(f, "Unknown allocation {id:?}"),
            // Nomad's text for a version a job does not keep; the ID is
            // `<job>@v<version>`.
            Error::NotFound {
                what: "job version",
                id,
                ..
            } => match id.rsplit_once("@v") {
                Some((job, v)) => write!(f, "job {job:?} at version {v} not found"),
                None => write!(f, "job {id:?} version not found"),
            },
            Error::NotFound { what, .. } => write!(f, "{what} not found"),
            Error::Invalid { errors, .. } => {
                // The multi-error text Nomad's API answers with.
                match errors.len() {
                    1 => f.write_str("1 error occurred:\n")?,
                    n => writeln!(f, "{n} errors occurred:")?,
                }
                for e in errors {
                    writeln!(f, "\t* {e}")?;
                }
                f.write_str("\n")
            }
            Error::Conflict { message, .. } => f.write_str(message),
            Error::Region { .. } => f.write_str("No path to region"),
            Error::Limit { path, message, .. } => write!(f, "{path}: {message}"),
            Error::Unavailable { message } => write!(f, "write not committed: {message}"),
        }
    }
}

impl std::error::Error for Error {}

/// Shorthand for results of store operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_renders_as_nomad_multierror() {
        let one = Error::invalid_field("ID", "missing job ID");
        assert_eq!(
            one.to_string(),
            "1 error occurred:\n\t* ID: missing job ID\n\n"
        );
        let two = Error::invalid(vec![
            FieldError::new("ID", "a"),
            FieldError::new("Name", "b"),
        ]);
        assert_eq!(
            two.to_string(),
            "2 errors occurred:\n\t* ID: a\n\t* Name: b\n\n"
        );
    }

    #[test]
    fn every_kind_has_its_own_code_name_and_exception() {
        use std::collections::HashSet;
        let kinds = ErrorKind::ALL;
        let codes: HashSet<_> = kinds.iter().map(|k| k.code()).collect();
        let names: HashSet<_> = kinds.iter().map(|k| k.name()).collect();
        let pys: HashSet<_> = kinds.iter().map(|k| k.python_exception()).collect();
        assert_eq!(codes.len(), kinds.len(), "codes {codes:?}");
        assert_eq!(names.len(), kinds.len(), "names {names:?}");
        assert_eq!(pys.len(), kinds.len(), "exceptions {pys:?}");
        for (i, k) in kinds.iter().enumerate() {
            // In code order, with no gap: a new kind goes at the end.
            assert_eq!(k.code() as usize, i + 1, "{k:?}");
            assert_eq!(ErrorKind::from_code(k.code()), Some(*k));
            // 1 to 99 are the kinds' codes, so the C binding's own cannot clash.
            assert!((1..100).contains(&k.code()), "{k:?}");
            assert!(k.python_exception().ends_with("Error"), "{k:?}");
            assert!(matches!(k.http_status(), 400 | 500), "{k:?}");
        }
        assert_eq!(ErrorKind::from_code(0), None);
        assert_eq!(ErrorKind::from_code(C_RESULT_INVALID_JSON), None);
    }

    #[test]
    fn c_results_are_the_codes_but_for_decode() {
        let decode = Error::Invalid {
            stage: Stage::Decode,
            errors: vec![],
        };
        assert_eq!(decode.c_result(), C_RESULT_INVALID_JSON);
        assert_eq!(Error::invalid(vec![]).c_result(), 2);
        let conflict = Error::Conflict {
            message: "x".into(),
            current_index: 1,
        };
        assert_eq!(conflict.c_result(), ErrorKind::Conflict.code());
    }

    #[test]
    fn http_statuses_follow_the_table() {
        let nf = Error::NotFound {
            what: "job",
            id: "x".into(),
            index: 3,
        };
        assert_eq!(nf.http_status(true), 404);
        assert_eq!(nf.http_status(false), 500);
        let decode = Error::Invalid {
            stage: Stage::Decode,
            errors: vec![],
        };
        assert_eq!(decode.http_status(false), 400);
        assert_eq!(Error::invalid(vec![]).http_status(false), 500);
        let json = nf.to_json();
        assert_eq!(json["kind"], "not_found");
        assert_eq!(json["code"], 1);
        assert_eq!(json["index"], 3);
    }
}

//! Values to Python objects through their `Serialize` impls, without JSON
//! text in between: the objects are exactly those `json.loads` would build
//! from the value's serde_json rendering (dicts, lists, str, int, float,
//! bool, None; non-finite floats as None; map keys as str).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use pyo3::BoundObject;
use serde::ser::{self, Serialize};

/// `value` as Python objects.
pub fn to_py<'py, T: Serialize + ?Sized>(
    py: Python<'py>,
    value: &T,
) -> PyResult<Bound<'py, PyAny>> {
    // `try_lock`: a finaliser run by the garbage collector in the middle of a
    // conversion may read the store again; it converts without the cache.
    let mut guard = KEYS.try_lock().ok();
    let keys = guard
        .as_mut()
        .map(|g| &*g.get_or_insert_with(Keys::default));
    let items = RefCell::new(Vec::new());
    value
        .serialize(ToPy {
            py,
            keys,
            items: &items,
        })
        .map_err(|e| e.0)
}

/// A Python error carried through serde.
pub struct Error(PyErr);

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(PyValueError::new_err(msg.to_string()))
    }
}

impl From<PyErr> for Error {
    fn from(e: PyErr) -> Self {
        Error(e)
    }
}

type Res<'py> = Result<Bound<'py, PyAny>, Error>;

/// Python strings of map keys (field names, mostly), made once per process
/// and shared by conversions. Bounded: short keys only, at most `MAX_KEYS`.
///
/// The cache is never emptied, so each entry is leaked when made and then
/// referred to by plain references, which conversions hold without locking
/// or reference counting.
struct Keys {
    /// The entries, by text.
    by_text: RefCell<HashMap<&'static str, &'static Entry, BuildHasherDefault<Fnv>>>,
    /// A front for `by_text` by the address of the key's text, in sets of
    /// two (`set_of`). A field name is a literal with a fixed address, so it
    /// comes back to the same set in every conversion and is found there
    /// without hashing its text. The text is compared all the same (a key on
    /// the heap may be freed and its address reused by another).
    by_addr: Box<[[Cell<Option<&'static Entry>>; 2]; SETS]>,
    /// Short string values, by the address of their text: see [`Keys::value`].
    values: RefCell<Box<[ValueSlot; VALUE_SLOTS]>>,
}

/// A string value as last made for a text at some address.
#[derive(Default)]
struct ValueSlot {
    len: u8,
    text: [u8; MAX_VALUE_LEN],
    string: Option<Py<PyString>>,
}

struct Entry {
    text: Box<str>,
    key: Py<PyString>,
}

static KEYS: Mutex<Option<Keys>> = Mutex::new(None);
const MAX_KEYS: usize = 8192;
const MAX_KEY_LEN: usize = 64;
const SETS: usize = 2048;
const VALUE_SLOTS: usize = 4096;
const MAX_VALUE_LEN: usize = 32;

impl Default for Keys {
    fn default() -> Self {
        Keys {
            by_text: RefCell::default(),
            by_addr: Box::new(std::array::from_fn(|_| Default::default())),
            values: RefCell::new(Box::new(std::array::from_fn(|_| ValueSlot::default()))),
        }
    }
}

/// The set in `Keys::by_addr` of a key's text: its address in 4-byte steps,
/// modulo the table. A struct's field names are literals side by side, so
/// they fill neighbouring sets (a few cache lines), at most two to a set.
fn set_of(name: &str) -> usize {
    (name.as_ptr() as usize >> 2) % SETS
}

/// `a == b` for the short texts of keys, without a call to `memcmp` (which
/// for a few bytes costs more than the compare): the first and last word,
/// overlapping when the text is shorter than two.
#[inline]
fn same_text(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    fn word<const N: usize>(s: &[u8], at: usize) -> [u8; N] {
        s[at..at + N].try_into().unwrap()
    }
    let n = a.len();
    n == b.len()
        && match n {
            0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
            4..=7 => {
                word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4)
            }
            8..=16 => {
                word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, n - 8) == word::<8>(b, n - 8)
            }
            _ => a == b,
        }
}

impl Keys {
    /// The entry of `name`, made now if new; None when the cache is full and
    /// `name` is not in it.
    #[inline]
    fn get(&self, py: Python<'_>, name: &str) -> Option<&'static Entry> {
        let set = &self.by_addr[set_of(name)];
        for slot in set {
            match slot.get() {
                Some(e) if same_text(&e.text, name) => return Some(e),
                _ => {}
            }
        }
        self.get_by_text(py, name, set)
    }

    #[cold]
    fn get_by_text(
        &self,
        py: Python<'_>,
        name: &str,
        set: &[Cell<Option<&'static Entry>>; 2],
    ) -> Option<&'static Entry> {
        let mut by_text = self.by_text.borrow_mut();
        let e = match by_text.get(name) {
            Some(&e) => e,
            None if by_text.len() < MAX_KEYS => {
                let e: &'static Entry = Box::leak(Box::new(Entry {
                    text: name.into(),
                    key: PyString::new(py, name).unbind(),
                }));
                by_text.insert(&e.text, e);
                e
            }
            None => return None,
        };
        // The newest first; the other makes way.
        set[1].set(set[0].get());
        set[0].set(Some(e));
        Some(e)
    }
}

impl Keys {
    /// The Python string of a short value (a job's driver, datacenter, ID...)
    /// as made the last time a text at the same address was converted, if
    /// the text is the same; else made now and kept in its place.
    ///
    /// A get of an unchanged job converts the same texts at the same
    /// addresses (the job is shared, not copied), so its strings come from
    /// here rather than being made again (docs/benchmarks.md). A slot holds one string
    /// (at most 32 bytes of text) until another text at an address of the
    /// same slot replaces it: at most 4,096 strings are kept.
    #[inline]
    fn value<'py>(&self, py: Python<'py>, text: &str) -> Bound<'py, PyString> {
        let mut values = self.values.borrow_mut();
        let slot = &mut values[(text.as_ptr() as usize >> 3) % VALUE_SLOTS];
        if let Some(string) = &slot.string {
            if usize::from(slot.len) == text.len()
                && same_bytes(text.as_bytes(), &slot.text[..text.len()])
            {
                return string.bind(py).clone();
            }
        }
        let string = PyString::new(py, text);
        slot.len = text.len() as u8;
        slot.text[..text.len()].copy_from_slice(text.as_bytes());
        slot.string = Some(string.clone().unbind());
        string
    }
}

/// FNV-1a: short keys, no need for DoS resistance (a bounded cache).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3);
        }
    }
}

#[derive(Clone, Copy)]
struct ToPy<'a, 'py> {
    py: Python<'py>,
    keys: Option<&'a Keys>,
    /// The items of the lists being made, nested ones after those they are
    /// in: one buffer for the whole conversion rather than one per list.
    items: &'a RefCell<Vec<Bound<'py, PyAny>>>,
}

impl<'py> ToPy<'_, 'py> {
    #[inline]
    fn key(self, name: &str) -> Key<'py> {
        if let Some(keys) = self.keys {
            if name.len() <= MAX_KEY_LEN {
                if let Some(e) = keys.get(self.py, name) {
                    return Key::Cached(&e.key);
                }
            }
        }
        Key::Made(PyString::new(self.py, name))
    }
}

/// A dict key on its way in: a string of the key cache (borrowed, so no
/// reference counting until the dict takes it), or one made for it.
enum Key<'py> {
    Cached(&'static Py<PyString>),
    Made(Bound<'py, PyString>),
}

impl<'py> Key<'py> {
    #[inline]
    fn set(self, dict: &Bound<'py, PyDict>, value: Bound<'py, PyAny>) -> PyResult<()> {
        match self {
            Key::Cached(k) => dict.set_item(k.bind(dict.py()), value),
            Key::Made(k) => dict.set_item(k, value),
        }
    }
}

impl<'py> ToPy<'_, 'py> {
    fn any<T>(self, v: T) -> Res<'py>
    where
        T: IntoPyObject<'py>,
        PyErr: From<T::Error>,
    {
        Ok(v.into_pyobject(self.py)
            .map_err(PyErr::from)?
            .into_any()
            .into_bound())
    }
}

impl<'a, 'py> ser::Serializer for ToPy<'a, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;
    type SerializeSeq = Seq<'a, 'py>;
    type SerializeTuple = Seq<'a, 'py>;
    type SerializeTupleStruct = Seq<'a, 'py>;
    type SerializeTupleVariant = Variant<Seq<'a, 'py>>;
    type SerializeMap = Map<'a, 'py>;
    type SerializeStruct = Map<'a, 'py>;
    type SerializeStructVariant = Variant<Map<'a, 'py>>;

    fn serialize_bool(self, v: bool) -> Res<'py> {
        self.any(v)
    }
    fn serialize_i8(self, v: i8) -> Res<'py> {
        self.any(v)
    }
    fn serialize_i16(self, v: i16) -> Res<'py> {
        self.any(v)
    }
    fn serialize_i32(self, v: i32) -> Res<'py> {
        self.any(v)
    }
    fn serialize_i64(self, v: i64) -> Res<'py> {
        self.any(v)
    }
    fn serialize_i128(self, v: i128) -> Res<'py> {
        self.any(v)
    }
    fn serialize_u8(self, v: u8) -> Res<'py> {
        self.any(v)
    }
    fn serialize_u16(self, v: u16) -> Res<'py> {
        self.any(v)
    }
    fn serialize_u32(self, v: u32) -> Res<'py> {
        self.any(v)
    }
    fn serialize_u64(self, v: u64) -> Res<'py> {
        self.any(v)
    }
    fn serialize_u128(self, v: u128) -> Res<'py> {
        self.any(v)
    }
    fn serialize_f32(self, v: f32) -> Res<'py> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Res<'py> {
        if v.is_finite() {
            self.any(v)
        } else {
            // serde_json writes null for NaN and infinities.
            Ok(self.py.None().into_bound(self.py))
        }
    }
    fn serialize_char(self, v: char) -> Res<'py> {
        self.any(v)
    }
    fn serialize_str(self, v: &str) -> Res<'py> {
        match self.keys {
            Some(keys) if !v.is_empty() && v.len() <= MAX_VALUE_LEN => {
                Ok(keys.value(self.py, v).into_any())
            }
            _ => Ok(PyString::new(self.py, v).into_any()),
        }
    }
    fn serialize_bytes(self, v: &[u8]) -> Res<'py> {
        // serde_json renders bytes as an array of numbers.
        Ok(PyList::new(self.py, v)?.into_any())
    }
    fn serialize_none(self) -> Res<'py> {
        Ok(self.py.None().into_bound(self.py))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Res<'py> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Res<'py> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> Res<'py> {
        self.serialize_none()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Res<'py> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Res<'py> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Res<'py> {
        let d = PyDict::new(self.py);
        d.set_item(variant, value.serialize(self)?)?;
        Ok(d.into_any())
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Seq<'a, 'py>, Error> {
        if let Some(len) = len {
            self.items.borrow_mut().reserve(len.min(4096));
        }
        Ok(Seq {
            to: self,
            start: self.items.borrow().len(),
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'a, 'py>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq<'a, 'py>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Variant<Seq<'a, 'py>>, Error> {
        Ok(Variant {
            variant,
            inner: self.serialize_seq(Some(len))?,
        })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Map<'a, 'py>, Error> {
        Ok(Map {
            to: self,
            dict: PyDict::new(self.py),
            key: None,
            raw: None,
        })
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Map<'a, 'py>, Error> {
        self.serialize_map(None)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Variant<Map<'a, 'py>>, Error> {
        Ok(Variant {
            variant,
            inner: self.serialize_map(None)?,
        })
    }
}

pub struct Seq<'a, 'py> {
    to: ToPy<'a, 'py>,
    /// Where this list's items begin in `to.items`.
    start: usize,
}

impl<'py> Seq<'_, 'py> {
    fn push<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        // Made first: an item that is a list uses the buffer too.
        let item = v.serialize(self.to)?;
        self.to.items.borrow_mut().push(item);
        Ok(())
    }
    fn finish(self) -> Res<'py> {
        let mut items = self.to.items.borrow_mut();
        Ok(PyList::new(self.to.py, items.drain(self.start..))?.into_any())
    }
}

impl<'py> ser::SerializeSeq for Seq<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.push(v)
    }
    fn end(self) -> Res<'py> {
        self.finish()
    }
}

impl<'py> ser::SerializeTuple for Seq<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.push(v)
    }
    fn end(self) -> Res<'py> {
        self.finish()
    }
}

impl<'py> ser::SerializeTupleStruct for Seq<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.push(v)
    }
    fn end(self) -> Res<'py> {
        self.finish()
    }
}

pub struct Map<'a, 'py> {
    to: ToPy<'a, 'py>,
    dict: Bound<'py, PyDict>,
    key: Option<Key<'py>>,
    /// The value of a `serde_json::value::RawValue` (stored JSON text that
    /// ordu does not model), which serialises as a struct of one field.
    raw: Option<Bound<'py, PyAny>>,
}

/// The struct name and field a `RawValue` serialises through: serde_json's
/// own serializer writes the text as it is, and so must this one.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

impl<'py> Map<'_, 'py> {
    #[inline]
    fn key<T: Serialize + ?Sized>(&self, key: &T) -> Result<Key<'py>, Error> {
        match key.serialize(KeyStr(self.to)) {
            Ok(k) => Ok(k),
            // JSON object keys are strings: numbers and the like become their text.
            Err(_) => Ok(Key::Made(key.serialize(self.to)?.str()?)),
        }
    }
}

impl<'py> ser::SerializeMap for Map<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.key = Some(self.key(key)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| <Error as ser::Error>::custom("map value without a key"))?;
        key.set(&self.dict, value.serialize(self.to)?)?;
        Ok(())
    }
    // What derived and std impls call: the same without a key held between calls.
    #[inline]
    fn serialize_entry<K, V>(&mut self, key: &K, value: &V) -> Result<(), Error>
    where
        K: Serialize + ?Sized,
        V: Serialize + ?Sized,
    {
        let key = self.key(key)?;
        key.set(&self.dict, value.serialize(self.to)?)?;
        Ok(())
    }
    fn end(self) -> Res<'py> {
        Ok(self.dict.into_any())
    }
}

impl<'py> ser::SerializeStruct for Map<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        if key == RAW_VALUE_TOKEN {
            // The field is the JSON text: made into the objects it stands for.
            let quoted = serde_json::to_string(value).map_err(<Error as ser::Error>::custom)?;
            let text: String =
                serde_json::from_str(&quoted).map_err(<Error as ser::Error>::custom)?;
            let parsed: serde_json::Value =
                serde_json::from_str(&text).map_err(<Error as ser::Error>::custom)?;
            self.raw = Some(parsed.serialize(self.to)?);
            return Ok(());
        }
        self.to
            .key(key)
            .set(&self.dict, value.serialize(self.to)?)?;
        Ok(())
    }
    fn end(self) -> Res<'py> {
        Ok(match self.raw {
            Some(raw) => raw,
            None => self.dict.into_any(),
        })
    }
}

/// An enum variant with content: `{variant: content}`, as serde_json writes it.
pub struct Variant<S> {
    variant: &'static str,
    inner: S,
}

impl<'py> ser::SerializeTupleVariant for Variant<Seq<'_, 'py>> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.inner.push(v)
    }
    fn end(self) -> Res<'py> {
        let py = self.inner.to.py;
        let d = PyDict::new(py);
        d.set_item(self.variant, self.inner.finish()?)?;
        Ok(d.into_any())
    }
}

impl<'py> ser::SerializeStructVariant for Variant<Map<'_, 'py>> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(&mut self.inner, key, value)
    }
    fn end(self) -> Res<'py> {
        let py = self.inner.dict.py();
        let d = PyDict::new(py);
        d.set_item(self.variant, self.inner.dict)?;
        Ok(d.into_any())
    }
}

/// A map key that is a string, through the key cache (flattened structs give
/// their field names as map keys); any other key is an error here, and is then
/// converted the general way.
struct KeyStr<'a, 'py>(ToPy<'a, 'py>);

struct NotStr;

impl fmt::Debug for NotStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a string key")
    }
}

impl fmt::Display for NotStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a string key")
    }
}

impl std::error::Error for NotStr {}

impl ser::Error for NotStr {
    fn custom<T: fmt::Display>(_: T) -> Self {
        NotStr
    }
}

macro_rules! not_str {
    ($($f:ident($t:ty)),*) => {
        $(fn $f(self, _: $t) -> Result<Key<'py>, NotStr> { Err(NotStr) })*
    };
}

impl<'py> ser::Serializer for KeyStr<'_, 'py> {
    type Ok = Key<'py>;
    type Error = NotStr;
    type SerializeSeq = ser::Impossible<Key<'py>, NotStr>;
    type SerializeTuple = ser::Impossible<Key<'py>, NotStr>;
    type SerializeTupleStruct = ser::Impossible<Key<'py>, NotStr>;
    type SerializeTupleVariant = ser::Impossible<Key<'py>, NotStr>;
    type SerializeMap = ser::Impossible<Key<'py>, NotStr>;
    type SerializeStruct = ser::Impossible<Key<'py>, NotStr>;
    type SerializeStructVariant = ser::Impossible<Key<'py>, NotStr>;

    not_str!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str)
    );

    #[inline]
    fn serialize_str(self, v: &str) -> Result<Key<'py>, NotStr> {
        Ok(self.0.key(v))
    }
    fn serialize_none(self) -> Result<Key<'py>, NotStr> {
        Err(NotStr)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Key<'py>, NotStr> {
        Err(NotStr)
    }
    fn serialize_unit(self) -> Result<Key<'py>, NotStr> {
        Err(NotStr)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Key<'py>, NotStr> {
        Ok(self.0.key(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<Key<'py>, NotStr> {
        Err(NotStr)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Key<'py>, NotStr> {
        Err(NotStr)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotStr> {
        Err(NotStr)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotStr> {
        Err(NotStr)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotStr> {
        Err(NotStr)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotStr> {
        Err(NotStr)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotStr> {
        Err(NotStr)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, NotStr> {
        Err(NotStr)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotStr> {
        Err(NotStr)
    }
}

#[cfg(test)]
mod tests {
    use super::same_text;

    #[test]
    fn same_text_is_equality() {
        let text = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn";
        for n in 0..=text.len() {
            let a = &text[..n];
            let copy = String::from(a); // the same text elsewhere
            assert!(same_text(a, &copy), "{a:?}");
            // A difference at any place, and a prefix.
            for i in 0..n {
                let mut b = a.to_string().into_bytes();
                b[i] = b'-';
                assert!(
                    !same_text(a, std::str::from_utf8(&b).unwrap()),
                    "{a:?} at {i}"
                );
            }
            if n > 0 {
                assert!(!same_text(a, &a[..n - 1]));
                assert!(!same_text(&a[..n - 1], a));
            }
        }
    }
}

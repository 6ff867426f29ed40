//! Values to Python objects through their `Serialize` impls, without JSON
//! text in between: the objects are exactly those `json.loads` would build
//! from the value's serde_json rendering (dicts, lists, str, int, float,
//! bool, None; non-finite floats as None; map keys as str).

use std::cell::RefCell;
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
    let mut map = guard
        .as_mut()
        .map(|g| g.get_or_insert_with(KeyMap::default));
    let cell = map.as_mut().map(|m| RefCell::new(&mut **m));
    value
        .serialize(ToPy {
            py,
            keys: cell.as_ref(),
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

/// Python strings of object keys (field names, mostly), made once per
/// process. Bounded: short keys only, and at most `MAX_KEYS` of them.
type KeyMap = HashMap<Box<str>, Py<PyString>, BuildHasherDefault<Fnv>>;
static KEYS: Mutex<Option<KeyMap>> = Mutex::new(None);
const MAX_KEYS: usize = 8192;
const MAX_KEY_LEN: usize = 64;

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
    keys: Option<&'a RefCell<&'a mut KeyMap>>,
}

impl<'py> ToPy<'_, 'py> {
    fn key(self, name: &str) -> Bound<'py, PyString> {
        if let Some(cell) = self.keys {
            if name.len() <= MAX_KEY_LEN {
                let mut keys = cell.borrow_mut();
                if let Some(k) = keys.get(name) {
                    return k.bind(self.py).clone();
                }
                let k = PyString::new(self.py, name);
                if keys.len() < MAX_KEYS {
                    keys.insert(name.into(), k.clone().unbind());
                }
                return k;
            }
        }
        PyString::new(self.py, name)
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
        Ok(PyString::new(self.py, v).into_any())
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
        Ok(Seq {
            to: self,
            items: Vec::with_capacity(len.unwrap_or(0).min(4096)),
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
    items: Vec<Bound<'py, PyAny>>,
}

impl<'py> Seq<'_, 'py> {
    fn push<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.items.push(v.serialize(self.to)?);
        Ok(())
    }
    fn finish(self) -> Res<'py> {
        Ok(PyList::new(self.to.py, self.items)?.into_any())
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
    key: Option<Bound<'py, PyAny>>,
}

impl<'py> ser::SerializeMap for Map<'_, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        let k = match key.serialize(KeyStr(self.to)) {
            Ok(name) => name.into_any(),
            // JSON object keys are strings: numbers and the like become their text.
            Err(_) => key.serialize(self.to)?.str()?.into_any(),
        };
        self.key = Some(k);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| <Error as ser::Error>::custom("map value without a key"))?;
        self.dict.set_item(key, value.serialize(self.to)?)?;
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
        self.dict
            .set_item(self.to.key(key), value.serialize(self.to)?)?;
        Ok(())
    }
    fn end(self) -> Res<'py> {
        Ok(self.dict.into_any())
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
        $(fn $f(self, _: $t) -> Result<Bound<'py, PyString>, NotStr> { Err(NotStr) })*
    };
}

impl<'py> ser::Serializer for KeyStr<'_, 'py> {
    type Ok = Bound<'py, PyString>;
    type Error = NotStr;
    type SerializeSeq = ser::Impossible<Bound<'py, PyString>, NotStr>;
    type SerializeTuple = ser::Impossible<Bound<'py, PyString>, NotStr>;
    type SerializeTupleStruct = ser::Impossible<Bound<'py, PyString>, NotStr>;
    type SerializeTupleVariant = ser::Impossible<Bound<'py, PyString>, NotStr>;
    type SerializeMap = ser::Impossible<Bound<'py, PyString>, NotStr>;
    type SerializeStruct = ser::Impossible<Bound<'py, PyString>, NotStr>;
    type SerializeStructVariant = ser::Impossible<Bound<'py, PyString>, NotStr>;

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

    fn serialize_str(self, v: &str) -> Result<Bound<'py, PyString>, NotStr> {
        Ok(self.0.key(v))
    }
    fn serialize_none(self) -> Result<Bound<'py, PyString>, NotStr> {
        Err(NotStr)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<Bound<'py, PyString>, NotStr> {
        Err(NotStr)
    }
    fn serialize_unit(self) -> Result<Bound<'py, PyString>, NotStr> {
        Err(NotStr)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Bound<'py, PyString>, NotStr> {
        Ok(self.0.key(variant))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<Bound<'py, PyString>, NotStr> {
        Err(NotStr)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Bound<'py, PyString>, NotStr> {
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

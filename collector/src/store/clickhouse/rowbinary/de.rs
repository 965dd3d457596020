//! The serde deserializer that reads a row back from RowBinary, the mirror of [`super::ser`]:
//! driven by the row type, so a row reads back exactly as the encoder wrote it. RowBinary does
//! not describe itself, so `deserialize_any` and ignored fields are refused.

use serde::de::{self, DeserializeSeed, Visitor};

use super::{Unreadable, read_varint};

/// The serde deserializer reading RowBinary from a buffer, from `at` on.
pub(super) struct Decoder<'d> {
    pub(super) data: &'d [u8],
    pub(super) at: usize,
}

fn refused(what: &str) -> Unreadable {
    Unreadable(format!("{what} has no RowBinary form"))
}

impl<'d> Decoder<'d> {
    fn take(&mut self, n: usize) -> Result<&'d [u8], Unreadable> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.data.len())
            .ok_or_else(|| Unreadable("the data ends inside a row".into()))?;
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Unreadable> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn length(&mut self) -> Result<usize, Unreadable> {
        let length = read_varint(self.data, &mut self.at)
            .ok_or_else(|| Unreadable("a length does not read back".into()))?;
        // Every element takes at least a byte: a longer length is damage, and must not make
        // anything allocate for it.
        if length > self.data.len() - self.at {
            return Err(Unreadable("a length runs past the data".into()));
        }
        Ok(length)
    }

    fn text(&mut self) -> Result<&'d str, Unreadable> {
        let length = self.length()?;
        std::str::from_utf8(self.take(length)?)
            .map_err(|_| Unreadable("a string is not UTF-8".into()))
    }
}

/// Reads a fixed-size little-endian number with `$visit`.
macro_rules! number {
    ($method:ident, $type:ty, $visit:ident) => {
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unreadable> {
            visitor.$visit(<$type>::from_le_bytes(self.array()?))
        }
    };
}

impl<'de> de::Deserializer<'de> for &mut Decoder<'de> {
    type Error = Unreadable;

    number!(deserialize_i8, i8, visit_i8);
    number!(deserialize_i16, i16, visit_i16);
    number!(deserialize_i32, i32, visit_i32);
    number!(deserialize_i64, i64, visit_i64);
    number!(deserialize_i128, i128, visit_i128);
    number!(deserialize_u8, u8, visit_u8);
    number!(deserialize_u16, u16, visit_u16);
    number!(deserialize_u32, u32, visit_u32);
    number!(deserialize_u64, u64, visit_u64);
    number!(deserialize_u128, u128, visit_u128);
    number!(deserialize_f32, f32, visit_f32);
    number!(deserialize_f64, f64, visit_f64);

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unreadable> {
        match self.array::<1>()? {
            [0] => visitor.visit_bool(false),
            [1] => visitor.visit_bool(true),
            _ => Err(Unreadable("a Bool is neither 0 nor 1".into())),
        }
    }
    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unreadable> {
        let text = self.text()?;
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(Unreadable("a char is not one character".into())),
        }
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unreadable> {
        visitor.visit_borrowed_str(self.text()?)
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unreadable> {
        self.deserialize_str(visitor)
    }
    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unreadable> {
        let length = self.length()?;
        visitor.visit_borrowed_bytes(self.take(length)?)
    }
    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unreadable> {
        self.deserialize_bytes(visitor)
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unreadable> {
        match self.array::<1>()? {
            [1] => visitor.visit_none(),
            [0] => visitor.visit_some(self),
            _ => Err(Unreadable("a Nullable marker is neither 0 nor 1".into())),
        }
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Unreadable> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unreadable> {
        let left = self.length()?;
        visitor.visit_seq(Elements {
            decoder: self,
            left,
        })
    }
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Unreadable> {
        visitor.visit_seq(Elements {
            decoder: self,
            left: len,
        })
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Unreadable> {
        self.deserialize_tuple(len, visitor)
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Unreadable> {
        let left = self.length()?;
        visitor.visit_map(Elements {
            decoder: self,
            left,
        })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Unreadable> {
        self.deserialize_tuple(fields.len(), visitor)
    }
    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Unreadable> {
        Err(refused("a value of unknown type"))
    }
    fn deserialize_unit<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Unreadable> {
        Err(refused("()"))
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _visitor: V,
    ) -> Result<V::Value, Unreadable> {
        Err(refused(name))
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _variants: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Unreadable> {
        Err(refused(name))
    }
    fn deserialize_identifier<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Unreadable> {
        Err(refused("a field name"))
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Unreadable> {
        Err(refused("an ignored value"))
    }
    fn is_human_readable(&self) -> bool {
        false
    }
}

/// The elements of a sequence, tuple or struct, or the pairs of a map, `left` of them to read.
struct Elements<'a, 'd> {
    decoder: &'a mut Decoder<'d>,
    left: usize,
}

impl<'de> de::SeqAccess<'de> for Elements<'_, 'de> {
    type Error = Unreadable;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Unreadable> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.decoder).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

impl<'de> de::MapAccess<'de> for Elements<'_, 'de> {
    type Error = Unreadable;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Unreadable> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.decoder).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Unreadable> {
        seed.deserialize(&mut *self.decoder)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

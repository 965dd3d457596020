//! Request bodies: which encoding the content type names, and decompression bounded by the
//! configured limit, so a small gzip bomb cannot make the collector allocate more than that.

use std::io::Read;

use axum::http::HeaderMap;
use axum::http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use bytes::Bytes;
use flate2::read::{DeflateDecoder, GzDecoder, ZlibDecoder};

use super::IngestError;
use crate::decode::Encoding;

/// The encoding named by `Content-Type`. `text/plain` is OTLP/JSON sent by
/// `navigator.sendBeacon`, which can only use CORS-safelisted content types.
pub(super) fn encoding(headers: &HeaderMap) -> Result<Encoding, IngestError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/x-protobuf" | "application/protobuf" => Ok(Encoding::Protobuf),
        "application/json" | "text/plain" => Ok(Encoding::Json),
        _ => Err(IngestError::UnsupportedMediaType(content_type.to_owned())),
    }
}

/// The body after `Content-Encoding` is undone, at most `max` bytes.
pub(super) fn decompress(
    raw: Bytes,
    headers: &HeaderMap,
    max: usize,
) -> Result<Bytes, IngestError> {
    let coding = headers
        .get(CONTENT_ENCODING)
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .unwrap_or_default();
    match coding.as_str() {
        "" | "identity" if raw.len() > max => Err(IngestError::TooLarge { limit: max }),
        "" | "identity" => Ok(raw),
        "gzip" | "x-gzip" => read_limited(GzDecoder::new(&raw[..]), max),
        // HTTP's "deflate" is zlib-wrapped, but many clients send raw deflate: accept both.
        "deflate" if is_zlib(&raw) => read_limited(ZlibDecoder::new(&raw[..]), max),
        "deflate" => read_limited(DeflateDecoder::new(&raw[..]), max),
        _ => Err(IngestError::UnsupportedEncoding(coding)),
    }
}

/// A gzip stream undone, at most `max` bytes (gRPC's per-message `grpc-encoding: gzip`).
pub(super) fn gunzip(raw: &[u8], max: usize) -> Result<Bytes, IngestError> {
    read_limited(GzDecoder::new(raw), max)
}

fn is_zlib(data: &[u8]) -> bool {
    matches!(data, [cmf, flg, ..] if cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0)
}

fn read_limited(reader: impl Read, max: usize) -> Result<Bytes, IngestError> {
    let mut out = Vec::new();
    reader
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| IngestError::Decompress(e.to_string()))?;
    if out.len() > max {
        return Err(IngestError::TooLarge { limit: max });
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use axum::http::HeaderValue;
    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};

    use super::*;

    fn headers(encoding: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_ENCODING,
            HeaderValue::from_str(encoding).expect("ascii"),
        );
        h
    }

    #[test]
    fn gzip_zlib_and_raw_deflate_all_decode() {
        let data = b"hello hello hello".to_vec();
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&data).expect("write");
        let mut zlib = ZlibEncoder::new(Vec::new(), Compression::default());
        zlib.write_all(&data).expect("write");
        let mut raw = DeflateEncoder::new(Vec::new(), Compression::default());
        raw.write_all(&data).expect("write");
        for (coding, body) in [
            ("gzip", gz.finish().expect("gz")),
            ("deflate", zlib.finish().expect("zlib")),
            ("deflate", raw.finish().expect("raw")),
        ] {
            let out = decompress(Bytes::from(body), &headers(coding), 1024).expect("decodes");
            assert_eq!(&out[..], &data[..], "{coding}");
        }
    }

    #[test]
    fn gzip_bomb_stops_at_the_limit() {
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(&vec![0u8; 50 << 20]).expect("write");
        let bomb = gz.finish().expect("gz");
        assert!(bomb.len() < 100 << 10);
        let err = decompress(Bytes::from(bomb), &headers("gzip"), 1 << 20).expect_err("too large");
        assert!(matches!(err, IngestError::TooLarge { .. }));
    }

    #[test]
    fn unknown_encoding_and_type_are_refused() {
        let err = decompress(Bytes::from_static(b"x"), &headers("br"), 10).expect_err("br");
        assert!(matches!(err, IngestError::UnsupportedEncoding(_)));
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/xml"));
        assert!(matches!(
            encoding(&h),
            Err(IngestError::UnsupportedMediaType(_))
        ));
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(matches!(encoding(&h), Ok(Encoding::Json)));
    }
}

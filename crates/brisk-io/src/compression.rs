//! Compression by file extension: `.gz`, `.zst`, `.bz2`, `.xz`, for reading and writing.

use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::IoError;

/// A compression format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Compression {
    /// Plain bytes.
    #[default]
    None,
    /// gzip (`.gz`); concatenated members are read as one stream.
    Gzip,
    /// Zstandard (`.zst`).
    Zstd,
    /// bzip2 (`.bz2`).
    Bz2,
    /// xz / LZMA2 (`.xz`).
    Xz,
}

impl Compression {
    /// The format a file name's extension implies (`None` for anything else).
    ///
    /// ```
    /// use brisk_io::Compression;
    /// assert_eq!(Compression::from_path("s3://b/logs/2024-01.txt.gz"), Compression::Gzip);
    /// assert_eq!(Compression::from_path("data.json.zst"), Compression::Zstd);
    /// assert_eq!(Compression::from_path("data.csv"), Compression::None);
    /// ```
    pub fn from_path(path: &str) -> Compression {
        let name = path.rsplit('/').next().unwrap_or(path);
        let ext = match name.rsplit_once('.') {
            Some((_, ext)) => ext.to_ascii_lowercase(),
            None => return Compression::None,
        };
        match ext.as_str() {
            "gz" | "gzip" => Compression::Gzip,
            "zst" | "zstd" => Compression::Zstd,
            "bz2" => Compression::Bz2,
            "xz" => Compression::Xz,
            _ => Compression::None,
        }
    }

    /// The format's short name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Bz2 => "bz2",
            Compression::Xz => "xz",
        }
    }

    /// Whether the bytes are compressed (and so cannot be split into byte ranges).
    pub fn is_compressed(self) -> bool {
        self != Compression::None
    }

    /// A reader that decompresses `inner`. Errors while reading name `url`.
    pub fn decoder(self, url: &str, inner: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
        let r: Box<dyn Read + Send> = match self {
            Compression::None => return inner,
            Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
                std::io::BufReader::with_capacity(1 << 16, inner),
            )),
            Compression::Zstd => match zstd::stream::read::Decoder::new(inner) {
                Ok(d) => Box::new(d),
                Err(e) => Box::new(FailingReader(Some(e))),
            },
            Compression::Bz2 => Box::new(bzip2::read::MultiBzDecoder::new(inner)),
            Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(inner)),
        };
        Box::new(NamedDecoder {
            inner: r,
            url: url.to_string(),
            compression: self,
        })
    }

    /// A writer that compresses into `inner`.
    pub(crate) fn encoder<W: Write + Send + 'static>(
        self,
        url: &str,
        inner: W,
    ) -> Result<Encoder<W>, IoError> {
        Ok(match self {
            Compression::None => Encoder::Plain(inner),
            Compression::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                inner,
                flate2::Compression::default(),
            )),
            Compression::Zstd => {
                Encoder::Zstd(zstd::stream::write::Encoder::new(inner, 3).map_err(|e| {
                    IoError::Compression {
                        action: "compress",
                        url: url.to_string(),
                        compression: self.name(),
                        source: std::sync::Arc::new(e),
                    }
                })?)
            }
            Compression::Bz2 => Encoder::Bz2(bzip2::write::BzEncoder::new(
                inner,
                bzip2::Compression::default(),
            )),
            Compression::Xz => Encoder::Xz(liblzma::write::XzEncoder::new(inner, 6)),
        })
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Compression {
    type Err = IoError;
    fn from_str(s: &str) -> Result<Self, IoError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Ok(Compression::None),
            "gzip" | "gz" => Ok(Compression::Gzip),
            "zstd" | "zst" => Ok(Compression::Zstd),
            "bz2" | "bzip2" => Ok(Compression::Bz2),
            "xz" | "lzma" => Ok(Compression::Xz),
            _ => Err(IoError::UnknownCompression {
                name: s.to_string(),
            }),
        }
    }
}

/// How to pick a file's compression: from its extension, or one format for all files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum CompressionChoice {
    /// From each file's extension (the default).
    #[default]
    Infer,
    /// This format for every file.
    Fixed(Compression),
}

impl CompressionChoice {
    /// The compression of `url` under this choice.
    pub fn for_url(self, url: &str) -> Compression {
        match self {
            CompressionChoice::Infer => Compression::from_path(url),
            CompressionChoice::Fixed(c) => c,
        }
    }
}

impl From<Compression> for CompressionChoice {
    fn from(c: Compression) -> Self {
        CompressionChoice::Fixed(c)
    }
}

impl FromStr for CompressionChoice {
    type Err = IoError;
    fn from_str(s: &str) -> Result<Self, IoError> {
        if s.trim().eq_ignore_ascii_case("infer") {
            return Ok(CompressionChoice::Infer);
        }
        s.parse().map(CompressionChoice::Fixed)
    }
}

struct FailingReader(Option<std::io::Error>);

impl Read for FailingReader {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| std::io::Error::other("decoder could not start")))
    }
}

/// A decoder whose errors name the file and format.
struct NamedDecoder {
    inner: Box<dyn Read + Send>,
    url: String,
    compression: Compression,
}

impl Read for NamedDecoder {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            // Errors of the underlying store already name the URL; codec errors do not.
            if e.get_ref().is_some_and(|inner| inner.is::<IoError>()) {
                return e;
            }
            std::io::Error::new(
                e.kind(),
                IoError::Compression {
                    action: "decompress",
                    url: self.url.clone(),
                    compression: self.compression.name(),
                    source: std::sync::Arc::new(e),
                },
            )
        })
    }
}

/// A compressing writer over `W`.
pub(crate) enum Encoder<W: Write> {
    Plain(W),
    Gzip(flate2::write::GzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
    Bz2(bzip2::write::BzEncoder<W>),
    Xz(liblzma::write::XzEncoder<W>),
}

impl<W: Write> Encoder<W> {
    /// The inner writer.
    pub(crate) fn get_mut(&mut self) -> &mut W {
        match self {
            Encoder::Plain(w) => w,
            Encoder::Gzip(e) => e.get_mut(),
            Encoder::Zstd(e) => e.get_mut(),
            Encoder::Bz2(e) => e.get_mut(),
            Encoder::Xz(e) => e.get_mut(),
        }
    }

    /// Write the format's trailer and return the inner writer.
    pub(crate) fn finish(self) -> std::io::Result<W> {
        match self {
            Encoder::Plain(w) => Ok(w),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
            Encoder::Bz2(e) => e.finish(),
            Encoder::Xz(e) => e.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
            Encoder::Bz2(e) => e.write(buf),
            Encoder::Xz(e) => e.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            Encoder::Plain(w) => w.write_all(buf),
            Encoder::Gzip(e) => e.write_all(buf),
            Encoder::Zstd(e) => e.write_all(buf),
            Encoder::Bz2(e) => e.write_all(buf),
            Encoder::Xz(e) => e.write_all(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
            Encoder::Bz2(e) => e.flush(),
            Encoder::Xz(e) => e.flush(),
        }
    }
}

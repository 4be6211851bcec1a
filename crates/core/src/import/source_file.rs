//! The file being imported, read once from start to end: its bytes are hashed (SHA-256)
//! as they stream into the CSV parser, so the store can name exactly which file a source
//! was without reading it twice or holding it in memory.

use std::fs::File;
use std::io::{self, BufReader, Read};

use sha2::{Digest, Sha256};

/// Passes bytes through and hashes each one on the way.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    /// The last byte that was not whitespace: a file whose last quoted field was never
    /// closed does not end with a quote.
    last_significant: Option<u8>,
}

impl HashingReader<BufReader<File>> {
    pub fn open(file: File) -> Self {
        HashingReader {
            inner: BufReader::with_capacity(256 * 1024, file),
            hasher: Sha256::new(),
            last_significant: None,
        }
    }
}

impl<R: Read> HashingReader<R> {
    /// Reads what is left and returns the hex SHA-256 of every byte the file had, and
    /// the file's last byte that is not whitespace.
    pub fn finish(mut self) -> io::Result<(String, Option<u8>)> {
        io::copy(&mut self, &mut io::sink())?;
        Ok((hex::encode(self.hasher.finalize()), self.last_significant))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        if let Some(&b) = buf[..n].iter().rev().find(|b| !b.is_ascii_whitespace()) {
            self.last_significant = Some(b);
        }
        Ok(n)
    }
}

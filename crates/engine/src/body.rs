//! Reading a source object's body: every chunk within the stall timeout and paced by the
//! bandwidth cap, counted and checksummed as it passes, so a short, long or corrupted body is an
//! error before its bytes are committed anywhere.

use awcopy_store::{ByteStream, Checksums, ErrorKind, StoreError};
use bytes::{Bytes, BytesMut};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use md5::Digest as _;
use std::time::Duration;

use crate::checksum::Crc64;
use crate::limits::Limits;

/// One body being read; see the module documentation.
pub(crate) struct BodyReader<'a> {
    body: ByteStream,
    stall_timeout: Duration,
    limits: &'a Limits,
    /// What is read, for messages: `'key'` or `'key' block N`.
    what: String,
    expected: u64,
    read: u64,
    crc: Crc64,
    /// The source's checksums, checked at the end (with a running MD5 when the source knows
    /// only an MD5); `None` for a block, whose CRC is combined into the object's by the caller.
    verify: Option<(Checksums, md5::Md5)>,
}

impl<'a> BodyReader<'a> {
    /// A reader of `body`, which must hold exactly `expected` bytes and, when `verify` is
    /// given, match those checksums.
    pub(crate) fn new(
        body: ByteStream,
        expected: u64,
        what: String,
        verify: Option<Checksums>,
        stall_timeout: Duration,
        limits: &'a Limits,
    ) -> Self {
        Self {
            body,
            stall_timeout,
            limits,
            what,
            expected,
            read: 0,
            crc: Crc64::default(),
            verify: verify.map(|checksums| (checksums, md5::Md5::default())),
        }
    }

    /// The next chunk; `None` once the body ended with every byte there and matching.
    pub(crate) async fn next_chunk(&mut self) -> Result<Option<Bytes>, StoreError> {
        let next = tokio::time::timeout(self.stall_timeout, self.body.try_next())
            .await
            .map_err(|_| {
                StoreError::new(
                    ErrorKind::Network,
                    format!(
                        "{}: no data for {} s; the stream stalled",
                        self.what,
                        self.stall_timeout.as_secs_f32()
                    ),
                )
            })?;
        let Some(chunk) = next? else {
            self.check_end()?;
            return Ok(None);
        };
        self.limits.bytes(chunk.len()).await;
        self.read += chunk.len() as u64;
        if self.read > self.expected {
            return Err(self.wrong_length());
        }
        self.crc.update(&chunk);
        if let Some((checksums, md5)) = &mut self.verify {
            if checksums.crc64nvme.is_none() && checksums.md5.is_some() {
                md5.update(&chunk);
            }
        }
        Ok(Some(chunk))
    }

    /// The CRC-64/NVME of the bytes read so far.
    pub(crate) fn crc(&self) -> u64 {
        self.crc.value()
    }

    /// Reads the whole body into memory; with its CRC-64/NVME.
    pub(crate) async fn read_all(mut self) -> Result<(Bytes, u64), StoreError> {
        let mut buffer = BytesMut::with_capacity(self.expected as usize);
        while let Some(chunk) = self.next_chunk().await? {
            buffer.extend_from_slice(&chunk);
        }
        Ok((buffer.freeze(), self.crc()))
    }

    /// The body as a stream whose last item is the error, if it turns out short or corrupted.
    pub(crate) fn into_stream(self) -> BoxStream<'a, Result<Bytes, StoreError>> {
        futures::stream::try_unfold(self, |mut reader| async move {
            Ok(reader.next_chunk().await?.map(|chunk| (chunk, reader)))
        })
        .boxed()
    }

    fn wrong_length(&self) -> StoreError {
        StoreError::new(
            ErrorKind::Integrity,
            format!(
                "{}: expected {} bytes, got {}",
                self.what, self.expected, self.read
            ),
        )
    }

    /// At the end of the body: the length, then the source's checksums.
    fn check_end(&mut self) -> Result<(), StoreError> {
        if self.read != self.expected {
            return Err(self.wrong_length());
        }
        let Some((checksums, md5)) = &mut self.verify else {
            return Ok(());
        };
        let differs = match (checksums.crc64nvme, checksums.md5) {
            (Some(expected), _) => (expected != self.crc.value()).then_some("CRC-64/NVME"),
            (None, Some(expected)) => {
                (std::mem::take(md5).finalize().as_slice() != expected).then_some("MD5")
            }
            (None, None) => None,
        };
        match differs {
            Some(sum) => Err(StoreError::new(
                ErrorKind::Integrity,
                format!(
                    "{}: {sum} of the bytes read differs from the source's",
                    self.what
                ),
            )),
            None => Ok(()),
        }
    }
}

//! The thumbnail job: an uploaded image made small ([`THUMBNAIL_PX`] at most a side), kept as
//! a blob beside it. Decoding is bounded (dimensions and memory), so that a small file that
//! declares a huge image (a decompression bomb) is refused, not decoded: its upload is marked
//! [`Thumbnail::Failed`] and shown as a plain file.

use std::io::Cursor;

use app::events::{THUMBNAIL_PX, Thumbnail};
use image::{DynamicImage, ImageFormat, ImageReader, Limits};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::{info, warn};

use crate::jobs::{Claimed, Handler, JobError, JobFuture};
use crate::store::blobs::{BlobId, CHUNK};
use crate::store::{Store, now_ms};

/// The longest side decoded; a larger image is refused.
const MAX_SIDE: u32 = 12_000;
/// The most memory a decoder may take.
const MAX_DECODE_BYTES: u64 = 256 << 20;
/// The largest file read for a thumbnail.
const MAX_INPUT_BYTES: i64 = 64 << 20;

/// What a thumbnail job is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ThumbnailPayload {
    pub(crate) upload: i64,
}

/// Runs `thumbnail` jobs.
pub(crate) struct Thumbnails {
    pub(crate) store: Store,
}

/// Why an image has no thumbnail.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ThumbnailError {
    #[error("the image is larger than thumbnails are made of")]
    TooLarge,
    #[error(transparent)]
    Image(#[from] image::ImageError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A thumbnail of the image `bytes`: PNG when it has transparency, JPEG otherwise.
pub(crate) fn make(bytes: &[u8]) -> Result<Vec<u8>, ThumbnailError> {
    let mut reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format()?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    reader.limits(limits);
    let image = reader.decode()?;
    let small = if image.width() <= THUMBNAIL_PX && image.height() <= THUMBNAIL_PX {
        image
    } else {
        image.thumbnail(THUMBNAIL_PX, THUMBNAIL_PX)
    };
    let mut out = Cursor::new(Vec::new());
    if small.color().has_alpha() {
        small.write_to(&mut out, ImageFormat::Png)?;
    } else {
        DynamicImage::ImageRgb8(small.to_rgb8()).write_to(&mut out, ImageFormat::Jpeg)?;
    }
    Ok(out.into_inner())
}

impl Handler for Thumbnails {
    fn run<'a>(&'a self, job: &'a Claimed) -> JobFuture<'a> {
        Box::pin(async move {
            let payload: ThumbnailPayload = job.payload()?;
            let store = &self.store;
            let Some(row) = store.upload(payload.upload).await? else {
                // Its message was deleted meanwhile: nothing to do.
                return Ok(Some(json!({"upload": payload.upload})));
            };
            if row.thumbnail() != Thumbnail::Pending {
                return Ok(Some(json!({"upload": row.id})));
            }
            let made = if row.bytes > MAX_INPUT_BYTES {
                Err(ThumbnailError::TooLarge)
            } else {
                let mut bytes = Vec::with_capacity(usize::try_from(row.bytes).unwrap_or(0));
                let mut n = 0;
                while let Some(chunk) = store.blob_chunk(BlobId(row.blob), n).await? {
                    bytes.extend_from_slice(&chunk);
                    n += 1;
                }
                tokio::task::spawn_blocking(move || make(&bytes))
                    .await
                    .map_err(|e| JobError::Retry(format!("the thumbnail's thread failed: {e}")))?
            };
            match made {
                Ok(thumb) => {
                    let now = now_ms();
                    let blob = store
                        .create_blob(Some(&row.uploader), "thumbnail", now, i64::MAX)
                        .await?;
                    for (n, chunk) in thumb.chunks(CHUNK).enumerate() {
                        store.append_blob_chunk(blob, n as i64, chunk).await?;
                    }
                    store.complete_blob(blob).await?;
                    if store
                        .set_thumbnail(row.id, Thumbnail::Ready, Some(blob))
                        .await?
                        .is_none()
                    {
                        store.delete_blob(blob).await?;
                    }
                    info!(upload = row.id, bytes = thumb.len(), "thumbnail made");
                }
                Err(e) => {
                    warn!(upload = row.id, error = %e, "no thumbnail for an upload");
                    store.set_thumbnail(row.id, Thumbnail::Failed, None).await?;
                }
            }
            Ok(Some(json!({"upload": row.id})))
        })
    }

    fn max_attempts(&self) -> u32 {
        3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        });
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn a_large_image_is_made_small_keeping_its_shape() {
        let thumb = make(&png(1000, 500)).unwrap();
        let back = image::load_from_memory(&thumb).unwrap();
        assert_eq!(
            (back.width(), back.height()),
            (THUMBNAIL_PX, THUMBNAIL_PX / 2)
        );
        assert_eq!(
            image::guess_format(&thumb).unwrap(),
            ImageFormat::Jpeg,
            "opaque: JPEG"
        );
    }

    #[test]
    fn a_small_image_keeps_its_size() {
        let back = image::load_from_memory(&make(&png(40, 30)).unwrap()).unwrap();
        assert_eq!((back.width(), back.height()), (40, 30));
    }

    /// A PNG whose header (with its checksum right) declares `side` × `side` pixels.
    pub(crate) fn declaring(side: u32) -> Vec<u8> {
        let mut image = png(1, 1);
        image[16..20].copy_from_slice(&side.to_be_bytes());
        image[20..24].copy_from_slice(&side.to_be_bytes());
        let crc = crc32(&image[12..29]);
        image[29..33].copy_from_slice(&crc.to_be_bytes());
        image
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn an_image_declaring_huge_dimensions_is_refused_without_decoding() {
        assert_eq!(declaring(1), png(1, 1), "the checksum is right");
        // 100,000 × 100,000 pixels: tens of gigabytes decoded.
        match make(&declaring(100_000)) {
            Err(ThumbnailError::Image(image::ImageError::Limits(_))) => {}
            other => panic!("not refused for its size: {other:?}"),
        }
        assert!(make(b"<html>not an image</html>").is_err());
    }
}

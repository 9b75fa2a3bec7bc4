//! Stored images: raw bytes per variant ('full' is the provider's PNG; widths are WebP
//! variants), a content hash for the ETag, and the owner, checked on every read.

use std::collections::HashMap;

use app::protocol::{ImageId, ImageInfo, ImageKind, JobId, MessageId, ThreadId, UserId, Variant};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{now_ms, Store, StoreError};

/// One variant to store.
pub struct StoredVariant {
    pub name: Variant,
    pub mime: &'static str,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

/// One variant read back for serving.
pub struct VariantBytes {
    pub mime: String,
    pub bytes: Vec<u8>,
    pub sha256: String,
}

impl Store {
    /// Stores an image and all its variants in one transaction.
    pub async fn store_image(
        &self,
        user: UserId,
        sha256: &str,
        (width, height): (u32, u32),
        variants: &[StoredVariant],
    ) -> Result<ImageId, StoreError> {
        let mut tx = self.pool().begin().await?;
        let row = sqlx::query(
            "INSERT INTO images (user_id, sha256, width, height, created_at, stored_bytes) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(user.0)
        .bind(sha256)
        .bind(i64::from(width))
        .bind(i64::from(height))
        .bind(now_ms())
        .bind(variants.iter().map(|v| v.bytes.len() as i64).sum::<i64>())
        .fetch_one(&mut *tx)
        .await?;
        let id = ImageId(row.try_get("id")?);
        for v in variants {
            sqlx::query(
                "INSERT INTO image_variants (image_id, variant, mime, width, height, bytes) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.0)
            .bind(v.name.to_string())
            .bind(v.mime)
            .bind(i64::from(v.width))
            .bind(i64::from(v.height))
            .bind(v.bytes.as_slice())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// Stores a picture a user sent (or a mask), marked as such.
    pub async fn store_picture(
        &self,
        user: UserId,
        kind: ImageKind,
        sha256: &str,
        size: (u32, u32),
        variants: &[StoredVariant],
    ) -> Result<ImageId, StoreError> {
        let id = self.store_image(user, sha256, size, variants).await?;
        sqlx::query("UPDATE images SET kind = $1 WHERE id = $2")
            .bind(kind.as_str())
            .bind(id.0)
            .execute(self.pool())
            .await?;
        Ok(id)
    }

    /// What `user`'s image `id` is and its size; `None` when it is not theirs.
    pub async fn image_kind(&self, user: UserId, id: ImageId) -> Result<Option<(ImageKind, u32, u32)>, StoreError> {
        let row = sqlx::query("SELECT kind, width, height FROM images WHERE id = $1 AND user_id = $2")
            .bind(id.0)
            .bind(user.0)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let kind = ImageKind::parse(&row.try_get::<String, _>("kind")?).unwrap_or_default();
        let side = |name: &str| row.try_get::<i64, _>(name).map(|v| u32::try_from(v).unwrap_or(0));
        Ok(Some((kind, side("width")?, side("height")?)))
    }

    /// A variant's bytes, only for the image's owner.
    pub async fn image_variant(
        &self,
        user: UserId,
        id: ImageId,
        variant: Variant,
    ) -> Result<Option<VariantBytes>, StoreError> {
        let row = sqlx::query(
            "SELECT v.mime, v.bytes, i.sha256 FROM image_variants v JOIN images i ON i.id = v.image_id \
             WHERE v.image_id = $1 AND v.variant = $2 AND i.user_id = $3",
        )
        .bind(id.0)
        .bind(variant.to_string())
        .bind(user.0)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.as_ref().map(variant_bytes).transpose()?)
    }

    /// The images a job made, in order, with their variants' widths.
    pub async fn images_of_job(&self, job: JobId) -> Result<Vec<ImageInfo>, StoreError> {
        let images = sqlx::query(&format!("{IMAGE_ROWS} WHERE i.job_id = $1 ORDER BY i.ordinal"))
            .bind(job.0)
            .fetch_all(self.pool())
            .await?;
        let variants = sqlx::query(
            "SELECT v.image_id, v.variant FROM image_variants v JOIN images i ON i.id = v.image_id WHERE i.job_id = $1",
        )
        .bind(job.0)
        .fetch_all(self.pool())
        .await?;
        Ok(by_job(&images, widths_by_image(&variants)).remove(&job).unwrap_or_default())
    }

    /// The same for every job shown by messages `messages.0..=messages.1` of `thread`, in two
    /// queries (this runs on each history load).
    pub async fn images_in_thread(
        &self,
        thread: ThreadId,
        messages: (MessageId, MessageId),
    ) -> Result<HashMap<JobId, Vec<ImageInfo>>, StoreError> {
        let images = sqlx::query(&format!(
            "{IMAGE_ROWS} JOIN jobs j ON j.id = i.job_id \
             WHERE j.thread_id = $1 AND j.message_id BETWEEN $2 AND $3 ORDER BY i.job_id, i.ordinal"
        ))
        .bind(thread.0)
        .bind(messages.0 .0)
        .bind(messages.1 .0)
        .fetch_all(self.pool())
        .await?;
        let variants = sqlx::query(
            "SELECT v.image_id, v.variant FROM image_variants v JOIN images i ON i.id = v.image_id \
             JOIN jobs j ON j.id = i.job_id WHERE j.thread_id = $1 AND j.message_id BETWEEN $2 AND $3",
        )
        .bind(thread.0)
        .bind(messages.0 .0)
        .bind(messages.1 .0)
        .fetch_all(self.pool())
        .await?;
        Ok(by_job(&images, widths_by_image(&variants)))
    }
}

const IMAGE_ROWS: &str = "SELECT i.id, i.job_id, i.width, i.height FROM images i";

/// Rows of [`IMAGE_ROWS`] (in order) grouped by job, with their widths.
fn by_job(rows: &[AnyRow], mut widths: HashMap<ImageId, Vec<u32>>) -> HashMap<JobId, Vec<ImageInfo>> {
    let mut jobs: HashMap<JobId, Vec<ImageInfo>> = HashMap::new();
    for row in rows {
        let mut read = || -> Result<(JobId, ImageInfo), sqlx::Error> {
            let mut info = image_info(row)?;
            info.variants = widths.remove(&info.id).unwrap_or_default();
            Ok((JobId(row.try_get("job_id")?), info))
        };
        if let Ok((job, info)) = read() {
            jobs.entry(job).or_default().push(info);
        }
    }
    jobs
}

/// An image's `id`, `width` and `height` (its variants are read apart, for many at once).
pub(super) fn image_info(row: &AnyRow) -> Result<ImageInfo, sqlx::Error> {
    let side = |name: &str| row.try_get::<i64, _>(name).map(|v| u32::try_from(v).unwrap_or(0));
    Ok(ImageInfo {
        id: ImageId(row.try_get("id")?),
        width: side("width")?,
        height: side("height")?,
        variants: Vec::new(),
    })
}

/// A variant read with its `mime`, `bytes` and the image's `sha256`.
pub(super) fn variant_bytes(row: &AnyRow) -> Result<VariantBytes, sqlx::Error> {
    Ok(VariantBytes { mime: row.try_get("mime")?, bytes: row.try_get("bytes")?, sha256: row.try_get("sha256")? })
}

/// Widths of the WebP variants per image, smallest first.
pub(super) fn widths_by_image(rows: &[AnyRow]) -> HashMap<ImageId, Vec<u32>> {
    let mut widths: HashMap<ImageId, Vec<u32>> = HashMap::new();
    for row in rows {
        let (Ok(id), Ok(variant)) = (row.try_get::<i64, _>("image_id"), row.try_get::<String, _>("variant")) else {
            continue;
        };
        if let Some(Variant::Width(w)) = Variant::parse(&variant) {
            widths.entry(ImageId(id)).or_default().push(w);
        }
    }
    widths.values_mut().for_each(|w| w.sort_unstable());
    widths
}

//! Stored images: raw bytes per variant ('full' is the provider's PNG; widths are WebP
//! variants), a content hash for the ETag, and the owner, checked on every read.

use app::protocol::{ImageId, UserId};
use sqlx::Row;

use super::{now_ms, Store, StoreError};

/// One variant to store.
pub struct StoredVariant {
    /// "full" or a width in pixels.
    pub name: String,
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
            "INSERT INTO images (user_id, sha256, width, height, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user.0)
        .bind(sha256)
        .bind(i64::from(width))
        .bind(i64::from(height))
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await?;
        let id = ImageId(row.try_get("id")?);
        for v in variants {
            sqlx::query(
                "INSERT INTO image_variants (image_id, variant, mime, width, height, bytes) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.0)
            .bind(&v.name)
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

    /// A variant's bytes, only for the image's owner.
    pub async fn image_variant(
        &self,
        user: UserId,
        id: ImageId,
        variant: &str,
    ) -> Result<Option<VariantBytes>, StoreError> {
        let row = sqlx::query(
            "SELECT v.mime, v.bytes, i.sha256 FROM image_variants v JOIN images i ON i.id = v.image_id \
             WHERE v.image_id = $1 AND v.variant = $2 AND i.user_id = $3",
        )
        .bind(id.0)
        .bind(variant)
        .bind(user.0)
        .fetch_optional(self.pool())
        .await?;
        row.map(|r| {
            Ok(VariantBytes { mime: r.try_get("mime")?, bytes: r.try_get("bytes")?, sha256: r.try_get("sha256")? })
        })
        .transpose()
    }

    /// Widths of an image's WebP variants, smallest first.
    pub async fn variant_widths(&self, id: ImageId) -> Result<Vec<u32>, StoreError> {
        let rows = sqlx::query("SELECT variant FROM image_variants WHERE image_id = $1")
            .bind(id.0)
            .fetch_all(self.pool())
            .await?;
        let mut widths: Vec<u32> =
            rows.iter().filter_map(|r| r.try_get::<String, _>("variant").ok()?.parse().ok()).collect();
        widths.sort_unstable();
        Ok(widths)
    }
}

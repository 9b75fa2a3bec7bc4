//! Whether the configured model is one the provider serves: asked once at start-up
//! (`GET /models`, a warning, never a refusal to start) and said once per model when a job
//! meets a 404 `model_not_found`, since it is the administrator's to fix, not each job's.

use std::time::Duration;

use super::wire::ModelList;
use super::OpenAiImages;
use crate::providers::body::{self, Budget};
use crate::providers::catalogue::{self, Lookup, Quality};
use crate::providers::ProviderError;

/// What the provider's `GET /models` said of the configured model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelCheck {
    /// Listed by the server.
    Offered,
    /// Not listed; `retired_on` when the catalogue knows it was shut down.
    Missing { retired_on: Option<&'static str> },
    /// The server did not answer the list (compatible servers often lack it); what the
    /// catalogue alone says.
    Unchecked(Lookup),
}

impl OpenAiImages {
    /// Asks the server which models it offers and logs what the administrator must know: a
    /// retired or missing model is a warning (the server still starts; jobs will say it too).
    pub async fn check_model(&self) -> ModelCheck {
        let model = self.settings.model.as_str();
        let check = self.list_models().await.map_or_else(
            || ModelCheck::Unchecked(catalogue::lookup(model)),
            |ids| match ids.iter().any(|id| id == model) {
                true => ModelCheck::Offered,
                false => ModelCheck::Missing { retired_on: catalogue::retired_on(model) },
            },
        );
        match &check {
            ModelCheck::Missing { retired_on: Some(date) } | ModelCheck::Unchecked(Lookup::Retired(date)) => {
                tracing::warn!(%model, retired_on = date, "OPENAI_IMAGE_MODEL names a model the provider retired; every image will fail until it is changed (e.g. to {})", catalogue::DEFAULT_MODEL)
            }
            ModelCheck::Missing { retired_on: None } => {
                tracing::warn!(%model, "the image provider does not list OPENAI_IMAGE_MODEL; images will fail if it is not served")
            }
            ModelCheck::Unchecked(Lookup::Unknown) => {
                tracing::info!(%model, "image model not in Easel's catalogue (a compatible server's own model?)")
            }
            ModelCheck::Offered | ModelCheck::Unchecked(Lookup::Current(_)) => {}
        }
        if let Some(q) = self.settings.quality.as_deref().and_then(Quality::parse) {
            if let Lookup::Current(m) = catalogue::lookup(model) {
                if !m.qualities().contains(&q) {
                    tracing::warn!(%model, quality = q.as_str(), "OPENAI_IMAGE_QUALITY is not one this model takes");
                }
            }
        }
        check
    }

    async fn list_models(&self) -> Option<Vec<String>> {
        let base = self.settings.base_url.trim_end_matches('/');
        let mut req = self.http.get(format!("{base}/models")).timeout(Duration::from_secs(5));
        if !self.settings.api_key.is_empty() {
            req = req.bearer_auth(&self.settings.api_key);
        }
        let res = req.send().await.ok().filter(|r| r.status().is_success())?;
        let bytes = body::read(res, Budget::Small, super::network).await.ok()?;
        let list: ModelList = serde_json::from_slice(&bytes).ok()?;
        Some(list.data.into_iter().map(|m| m.id).collect())
    }

    /// Says a missing model once per model (it is a configuration error, not a job's).
    pub(super) fn report(&self, error: &ProviderError) {
        if let ProviderError::ModelUnavailable { model, retired_on } = error {
            let first = self.reported.lock().unwrap_or_else(|p| p.into_inner()).insert(model.clone());
            if first {
                tracing::error!(%model, retired_on = retired_on.unwrap_or("-"), "the image provider does not offer OPENAI_IMAGE_MODEL: every image fails until the administrator sets a current model (e.g. {})", catalogue::DEFAULT_MODEL);
            }
        }
    }
}

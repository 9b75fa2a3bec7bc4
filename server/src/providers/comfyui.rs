//! ComfyUI (skeleton; being written).

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ComfyUiSettings {
    pub base_url: String,
    pub timeout: Duration,
}

impl ComfyUiSettings {
    pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        Ok(var("COMFYUI_URL").map(|base_url| Self { base_url, timeout: Duration::from_secs(600) }))
    }
}

/// Skeleton until the client is written.
pub struct ComfyUi {
    settings: ComfyUiSettings,
}

impl ComfyUi {
    pub fn new(settings: ComfyUiSettings) -> Result<Self, String> {
        Ok(Self { settings })
    }
}

#[async_trait::async_trait]
impl super::ImageProvider for ComfyUi {
    fn kind(&self) -> super::ProviderKind {
        super::ProviderKind::ComfyUi
    }
    fn name(&self) -> &'static str {
        "ComfyUi"
    }
    fn model(&self) -> String {
        String::new()
    }
    fn capabilities(&self) -> super::Capabilities {
        super::Capabilities::default()
    }
    fn deadline(&self, _request: &super::ImageRequest) -> Duration {
        self.settings.timeout
    }
    async fn generate(
        &self,
        _request: &super::ImageRequest,
        _events: tokio::sync::mpsc::Sender<super::ProviderEvent>,
        _cancel: tokio_util::sync::CancellationToken,
    ) -> Result<super::GeneratedImage, super::ProviderError> {
        Err(super::ProviderError::Network(self.settings.base_url.clone()))
    }
}

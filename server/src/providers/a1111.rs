//! AUTOMATIC1111 / Forge (skeleton; being written).

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct A1111Settings {
    pub base_url: String,
    pub timeout: Duration,
}

impl A1111Settings {
    pub fn from_env(var: &dyn Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        Ok(var("A1111_URL").map(|base_url| Self { base_url, timeout: Duration::from_secs(600) }))
    }
}

/// Skeleton until the client is written.
pub struct Automatic1111 {
    settings: A1111Settings,
}

impl Automatic1111 {
    pub fn new(settings: A1111Settings) -> Result<Self, String> {
        Ok(Self { settings })
    }
}

#[async_trait::async_trait]
impl super::ImageProvider for Automatic1111 {
    fn kind(&self) -> super::ProviderKind {
        super::ProviderKind::Automatic1111
    }
    fn name(&self) -> &'static str {
        "Automatic1111"
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

//! The providers this instance offers, and the default one. Built once at start-up from the
//! configuration; a job records which provider made it, so Retry goes back to the same one
//! while it is still offered.

use std::sync::Arc;

use super::{ImageProvider, ProviderKind};

#[derive(Clone)]
pub struct Providers {
    offered: Vec<Arc<dyn ImageProvider>>,
    default: usize,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error("no image provider is offered")]
    Empty,
    #[error("the default provider {0:?} is not among those offered")]
    DefaultNotOffered(&'static str),
}

impl Providers {
    /// `offered` in the administrator's order; `default` must be one of them (the first when
    /// none is named).
    pub fn new(offered: Vec<Arc<dyn ImageProvider>>, default: Option<ProviderKind>) -> Result<Self, RegistryError> {
        if offered.is_empty() {
            return Err(RegistryError::Empty);
        }
        let default = match default {
            Some(kind) => {
                offered.iter().position(|p| p.kind() == kind).ok_or(RegistryError::DefaultNotOffered(kind.id()))?
            }
            None => 0,
        };
        Ok(Self { offered, default })
    }

    /// One provider, offered and default: what tests and benchmarks mostly need.
    pub fn single(provider: Arc<dyn ImageProvider>) -> Self {
        Self { offered: vec![provider], default: 0 }
    }

    pub fn default_provider(&self) -> &Arc<dyn ImageProvider> {
        &self.offered[self.default]
    }

    pub fn by_kind(&self, kind: ProviderKind) -> Option<&Arc<dyn ImageProvider>> {
        self.offered.iter().find(|p| p.kind() == kind)
    }

    pub fn offered(&self) -> impl Iterator<Item = &Arc<dyn ImageProvider>> {
        self.offered.iter()
    }
}

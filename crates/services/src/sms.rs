//! Sending SMS. Operators plug in their provider behind [`SmsGateway`]; the built-in
//! [`LogGateway`] appends each message to a file, which is what demos and tests read.

use std::io::Write;
use std::path::PathBuf;

use async_trait::async_trait;
use outbreak_domain::Phone;

use crate::{Result, ServiceError};

#[async_trait]
pub trait SmsGateway: Send + Sync {
    /// Sends `text` to `to`; returns when the provider has accepted it.
    async fn send(&self, to: &Phone, text: &str) -> Result<()>;
}

/// Writes one line per message: RFC 3339 time, phone, text (tabs and newlines escaped).
pub struct LogGateway {
    path: PathBuf,
    file: std::sync::Mutex<()>,
}

impl LogGateway {
    pub fn new(path: PathBuf) -> LogGateway {
        LogGateway { path, file: std::sync::Mutex::new(()) }
    }
}

#[async_trait]
impl SmsGateway for LogGateway {
    async fn send(&self, to: &Phone, text: &str) -> Result<()> {
        let at = outbreak_domain::now()
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let line = format!("{at}\t{}\t{}\n", to.as_str(), text.replace(['\t', '\n'], " "));
        let path = self.path.clone();
        // One writer at a time keeps lines whole.
        let _guard = self.file.lock().map_err(|_| ServiceError::Internal("SMS log lock poisoned".into()))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| ServiceError::Internal(format!("SMS log folder: {e}")))?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .map_err(|e| ServiceError::Internal(format!("cannot write the SMS log {}: {e}", path.display())))
    }
}

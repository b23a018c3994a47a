//! TEMPORARY STUB (helper-1 replaces this file).
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    pub dir: std::path::PathBuf,
    pub ephemeral: bool,
    pub database: String,
    pub max_connections: u32,
}
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error("stub")]
    Stub,
}
pub struct EmbeddedPostgres;
impl EmbeddedPostgres {
    pub fn start(_opts: EmbeddedOptions) -> Result<Self, EmbeddedError> {
        Err(EmbeddedError::Stub)
    }
    pub fn database_url(&self) -> String {
        String::new()
    }
    pub fn url_for(&self, _database: &str) -> String {
        String::new()
    }
    pub fn port(&self) -> u16 {
        0
    }
    pub fn stop(self) -> Result<(), EmbeddedError> {
        Ok(())
    }
}

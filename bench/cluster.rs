//! A throwaway PostgreSQL cluster with production durability (fsync on), and the service's
//! settings for it: what the benchmarks that run the real service share.

use std::path::PathBuf;

use salgate::{
    config::Settings,
    db::embedded::{EmbeddedOptions, EmbeddedPostgres},
};

/// A cluster in a directory of its own under the system's temp dir.
pub struct Cluster {
    pub pg: EmbeddedPostgres,
    dir: PathBuf,
}

impl Cluster {
    /// Starts a cluster for the benchmark `name` with database `bench`.
    pub async fn start(name: &str, max_connections: u32) -> anyhow::Result<Cluster> {
        let dir = std::env::temp_dir().join(format!("salgate-{name}-bench-{}", std::process::id()));
        let opts = EmbeddedOptions {
            dir: dir.clone(),
            ephemeral: false,
            database: "bench".into(),
            max_connections,
            port: None,
        };
        let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(opts)).await??;
        Ok(Cluster { pg, dir })
    }

    /// The service's settings on this cluster: a free port, no rate limit.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let mut settings = Settings::load()?;
        settings.listen = "127.0.0.1:0".parse()?;
        settings.database_url = Some(self.pg.database_url());
        settings.rate_limit_per_second = 0.0;
        Ok(settings)
    }

    /// Stops the cluster and removes its directory (blocking: call it off the runtime).
    pub fn stop(self) -> anyhow::Result<()> {
        self.pg.stop()?;
        std::fs::remove_dir_all(&self.dir)?;
        Ok(())
    }
}

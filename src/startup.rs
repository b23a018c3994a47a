//! Building and running the application: database (external or embedded), migrations, the
//! first admin key, the HTTP listener, graceful shutdown.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    clock::Clock,
    config::Settings,
    db::{
        self,
        embedded::{EmbeddedOptions, EmbeddedPostgres},
        failover::Failover,
        lane::Lane,
    },
    domain::Role,
    http::{self, AppState},
    jobs::{
        self,
        crm_writer::CrmWriter,
        key_listener::KeyListener,
        notifier::Notifier,
        pg_supervisor::{PgSupervisor, SharedCluster},
        replica_lag::ReplicaLag,
        Tasks,
    },
    service::{group_commit::GroupCommit, replica::ReadReplica},
};

mod periodic;
mod state;

use periodic::{spawn_periodic_jobs, JobSettings};
use state::{app_state, crm_writer, notifier};

/// How long in-flight requests and background work get to finish after a stop signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the embedded cluster is checked for having stopped, and the primary of a
/// several-host `DATABASE_URL` for still being the primary.
const SUPERVISE_INTERVAL: Duration = Duration::from_secs(1);

/// The database the service talks to, and the embedded cluster behind it if we run one.
pub struct Database {
    pub pool: PgPool,
    /// Connections of `pool` kept for the hot paths: at most three quarters of it, so the rest
    /// stays for the other endpoints and the background tasks.
    pub lane: Arc<Lane>,
    /// The embedded cluster, when there is no `DATABASE_URL`; watched by the [`PgSupervisor`].
    pub embedded: Option<SharedCluster>,
    /// With several hosts in `DATABASE_URL`: which one is the primary (its `watch` task keeps
    /// `pool` on it).
    pub failover: Option<Arc<Failover>>,
    /// `DATABASE_READ_URL`'s pool and lag, for reports and listings.
    pub replica: Option<Arc<ReadReplica>>,
}

impl Database {
    /// Connects to `DATABASE_URL`, or starts the embedded cluster under the data dir; then
    /// runs migrations.
    pub async fn open(settings: &Settings) -> anyhow::Result<Database> {
        let (url, embedded) = match &settings.database_url {
            Some(url) => (url.clone(), None),
            None => {
                let opts = EmbeddedOptions {
                    dir: settings.data_dir.join("postgres"),
                    ephemeral: false,
                    database: "salgate".into(),
                    max_connections: 100,
                    port: None,
                };
                tracing::info!(dir = %opts.dir.display(), "starting the embedded PostgreSQL cluster");
                let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(opts))
                    .await
                    .context("embedded PostgreSQL start-up panicked")?
                    .context("could not start the embedded PostgreSQL cluster")?;
                (pg.database_url(), Some(Arc::new(Mutex::new(Some(pg)))))
            }
        };
        let (pool, failover) = db::connect_following(&url, settings.database_max_connections)
            .await
            .context("could not connect to PostgreSQL")?;
        db::migrate(&pool)
            .await
            .context("could not run database migrations")?;
        let capacity = (settings.database_max_connections as usize * 3 / 4).max(1);
        let lane = Arc::new(Lane::new(pool.clone(), capacity));
        // Lazily: a replica that is down at start is read from once it is up.
        let replica = match &settings.read_replica {
            Some(r) => {
                let replica_pool = db::connect_lazy(&r.url, settings.database_max_connections)
                    .context("invalid setting database_read_url (DATABASE_READ_URL)")?;
                Some(Arc::new(ReadReplica::new(replica_pool, r.max_lag)))
            }
            None => None,
        };
        Ok(Database {
            pool,
            lane,
            embedded,
            failover,
            replica,
        })
    }

    /// Closes the pool and stops the embedded cluster, if any.
    pub async fn close(self) {
        self.lane.close();
        self.pool.close().await;
        if let Some(replica) = &self.replica {
            replica.pool.close().await;
        }
        self.stop_embedded().await;
    }

    /// As [`Database::close`], but connections still held at `deadline` (by a task that did not
    /// stop) are not waited for: the cluster is stopped anyway.
    pub async fn close_by(self, deadline: tokio::time::Instant) {
        self.lane.close();
        if tokio::time::timeout_at(deadline, self.pool.close())
            .await
            .is_err()
        {
            tracing::warn!("database connections were still in use after 10 s");
        }
        if let Some(replica) = &self.replica {
            let _ = tokio::time::timeout_at(deadline, replica.pool.close()).await;
        }
        self.stop_embedded().await;
    }

    async fn stop_embedded(self) {
        let Some(cluster) = self.embedded else {
            return;
        };
        // Taken out under the lock, so a supervisor still mid-check cannot start it again;
        // off the workers, since that check may hold the lock while a start runs.
        let stopped = tokio::task::spawn_blocking(move || {
            let taken = cluster.lock().unwrap_or_else(|e| e.into_inner()).take();
            taken.filter(|pg| pg.is_owned()).map(|pg| pg.stop())
        })
        .await;
        match stopped {
            Ok(None) => {}
            Ok(Some(Ok(()))) => tracing::info!("embedded PostgreSQL stopped"),
            Ok(Some(Err(e))) => {
                tracing::error!(error = %e, "embedded PostgreSQL did not stop cleanly")
            }
            Err(e) => tracing::error!(error = %e, "stopping embedded PostgreSQL panicked"),
        }
    }
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    database: Database,
    shutdown: CancellationToken,
    jobs: JobSettings,
    /// Sends Slack and email notifications (one of the periodic jobs).
    notifier: Notifier,
    /// Writes decisions back to the CRMs (one of the periodic jobs).
    crm_writer: CrmWriter,
    /// Measures the read replica's lag, if there is one (runs with or without the periodic
    /// jobs: the reads depend on it).
    replica_lag: Option<ReplicaLag>,
    /// Whether the periodic jobs run (scanner, dispatcher, compactor, idempotency purge); tests
    /// turn them off and drive each job themselves.
    periodic_jobs: bool,
    /// The admin token created on first start (no keys existed), shown once.
    pub bootstrap_admin_token: Option<String>,
    /// With the first-start admin key, a one-time link that signs its holder in to the pages
    /// as admin.
    pub bootstrap_sign_in_link: Option<String>,
}

impl Application {
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Application> {
        // Installs the Prometheus recorder before anything is counted.
        let _ = http::observe::prometheus();
        let database = Database::open(&settings).await?;
        let bootstrap_admin_token = db::api_keys::bootstrap_admin(&database.pool, clock.now())
            .await
            .context("could not check for API keys")?;
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("could not listen on {} (SALGATE_LISTEN)", settings.listen))?;
        let state = app_state(&settings, &database, clock, listener.local_addr().ok())?;
        let notifier = notifier(&settings, &state)?;
        notifier
            .announce()
            .await
            .context("could not record the notification channels")?;
        let crm_writer = crm_writer(&settings, &state)?;
        let replica_lag = database
            .replica
            .clone()
            .map(|replica| ReplicaLag::new(database.pool.clone(), replica, state.clock.clone()));
        if let Some(lag) = &replica_lag {
            // Measured once before serving, so the first reports can read the replica.
            lag.run_once().await;
        }
        crm_writer
            .announce()
            .await
            .context("could not record the CRM write-back targets")?;
        let bootstrap_sign_in_link = match bootstrap_admin_token {
            Some(_) => {
                let (_, token) = state
                    .service
                    .create_sign_in_link("bootstrap", Role::Admin, None)
                    .await
                    .context("could not make the first sign-in link")?;
                Some(format!("{}/app/login/{token}", state.pages.link_base))
            }
            None => None,
        };
        Ok(Application {
            listener,
            state,
            database,
            shutdown: CancellationToken::new(),
            jobs: JobSettings::from_settings(&settings),
            notifier,
            crm_writer,
            replica_lag,
            periodic_jobs: true,
            bootstrap_admin_token,
            bootstrap_sign_in_link,
        })
    }

    /// Starts none of the periodic jobs: only the server, the key revocation listener and the
    /// embedded cluster's supervisor run.
    pub fn without_periodic_jobs(mut self) -> Self {
        self.periodic_jobs = false;
        self
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn pool(&self) -> PgPool {
        self.database.pool.clone()
    }

    /// The one-lead ingests' group commit (tests watch its queue).
    pub fn group_commit(&self) -> Arc<GroupCommit> {
        self.state.service.group_commit.clone()
    }

    /// The one-lead ingests' grouped judgements (tests watch its queue).
    pub fn group_judge(&self) -> Arc<crate::service::judge::GroupJudge> {
        self.state.service.group_judge.clone()
    }

    /// Cancelling this token stops the server gracefully (tests and signal handlers use it).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Serves until the shutdown token is cancelled, then gives in-flight requests and the
    /// background tasks [`DRAIN_TIMEOUT`] in total to finish, then closes the database (stopping
    /// the embedded cluster).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let mut tasks = Tasks::default();
        let shutdown = self.shutdown.clone();
        let listener = self.listener;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, "salgate listening");
        let app = http::router(self.state.clone());
        if self.periodic_jobs {
            spawn_periodic_jobs(&mut tasks, &self.state, &self.jobs, &shutdown);
            tasks.spawn(
                "the notification dispatcher",
                self.notifier
                    .clone()
                    .run(self.jobs.notify_poll_interval, shutdown.clone()),
            );
            tasks.spawn(
                "the CRM writer",
                self.crm_writer
                    .clone()
                    .run(self.jobs.crm_poll_interval, shutdown.clone()),
            );
        }
        let revocations = KeyListener::new(&self.state.db, self.state.keys.clone());
        tasks.spawn(
            "the API key revocation listener",
            revocations.run(shutdown.clone()),
        );
        // It stops between checks; a restart in flight may take longer (crash recovery).
        if let Some(cluster) = self.database.embedded.clone() {
            let supervisor = PgSupervisor::new(cluster).run(SUPERVISE_INTERVAL, shutdown.clone());
            tasks.spawn("the embedded PostgreSQL supervisor", supervisor);
        }
        if let Some(failover) = self.database.failover.clone() {
            let watch = failover.watch(
                self.database.pool.clone(),
                SUPERVISE_INTERVAL,
                shutdown.clone(),
            );
            tasks.spawn("the database failover watch", watch);
        }
        if let Some(lag) = self.replica_lag {
            let schedule = jobs::Schedule::every(self.jobs.read_lag_interval);
            tasks.spawn(
                "the replica lag probe",
                jobs::run(lag, schedule, shutdown.clone()),
            );
        }
        let stopped = shutdown.clone();
        // With the peer address: per-address limits and the Salesforce network allow-list.
        let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            stopped.cancelled().await;
        });
        let server = tasks.spawn_joined(async move { server.await });
        shutdown.cancelled().await;
        let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        let served = tokio::time::timeout_at(deadline, server).await;
        // Message updates and replies left running after Slack was answered.
        if let Some(slack) = &self.state.slack {
            if !slack.drain(deadline).await {
                tracing::warn!("Slack updates after acks did not finish within 10 s");
            }
        }
        for what in tasks.drain(deadline).await {
            tracing::warn!("{what} did not stop within 10 s");
        }
        self.database.close_by(deadline).await;
        match served {
            Ok(result) => result
                .context("server task panicked")?
                .context("server failed")?,
            Err(_) => tracing::warn!("in-flight requests did not finish within 10 s"),
        }
        Ok(())
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

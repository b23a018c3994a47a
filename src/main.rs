use std::{process::ExitCode, sync::Arc};

use clap::{Parser, Subcommand};
use salgate::{
    clock::{Clock, SystemClock},
    config::Settings,
    db::{
        self,
        embedded::{EmbeddedOptions, EmbeddedPostgres},
    },
    domain::{slug::SlugKind, Role},
    startup::{self, Application, Database},
    telemetry,
};

/// mimalloc instead of glibc's malloc: a request allocates and frees many small buffers, and
/// glibc's allocator was ~8 % of the service's CPU under ingest load (perf, bench/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "salgate", version, about = "The Sales Accepted Lead gate")]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the HTTP service (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        command: KeysCmd,
    },
    /// Let people into the pages under /app.
    Users {
        #[command(subcommand)]
        command: UsersCmd,
    },
    /// Prepare a CRM for the write-back (docs/crm.md).
    Crm {
        #[command(subcommand)]
        command: CrmCmd,
    },
    /// Run an embedded PostgreSQL cluster on its own, for tools such as the benchmarks.
    Db {
        #[command(subcommand)]
        command: DbCmd,
    },
}

#[derive(Subcommand)]
enum DbCmd {
    /// Start the cluster under --dir (or attach to the one running there) and leave it running;
    /// prints port=, cluster_dir=, admin_url= and app_url= lines.
    Start {
        /// The directory of the cluster (as SALGATE_DATA_DIR/postgres for the service).
        #[arg(long)]
        dir: std::path::PathBuf,
        /// The database created for the application role.
        #[arg(long, default_value = "salgate")]
        database: String,
        #[arg(long, default_value_t = 100)]
        max_connections: u32,
        /// The port to listen on (127.0.0.1); a free one by default.
        #[arg(long)]
        port: Option<u16>,
        /// A server setting, `name=value` (repeatable), e.g. shared_buffers=256MB.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        settings: Vec<String>,
    },
    /// Stop the cluster under --dir (fast shutdown) and wait for it to exit.
    Stop {
        #[arg(long)]
        dir: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum CrmCmd {
    /// Create the contact properties salgate writes, where missing (hubspot is the one CRM
    /// this can be done for; Salesforce fields are created in Setup).
    Setup {
        #[arg(value_parser = ["hubspot"])]
        crm: String,
    },
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Create a key; its token is printed alone on the last line of stdout.
    Create {
        /// ingest, sdr, revops or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The rep an sdr key acts as (required for sdr).
        #[arg(long)]
        rep: Option<String>,
        /// A label for the key.
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Subcommand)]
enum UsersCmd {
    /// Make a one-time sign-in link; it is printed alone on the last line of stdout.
    Invite {
        /// sdr, revops or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The rep an sdr signs in as (required for sdr).
        #[arg(long)]
        rep: Option<String>,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "must be one of ingest, sdr, revops, admin".into())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("salgate: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    match run(cli.command.unwrap_or(Cmd::Serve), settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "salgate stopped with an error");
            eprintln!("salgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Cmd, settings: Settings) -> anyhow::Result<()> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    match command {
        Cmd::Serve => {
            let app = Application::build(settings, clock).await?;
            if let Some(token) = &app.bootstrap_admin_token {
                println!("salgate: no API keys existed, so an admin key was created. It is shown only this once:");
                println!("{token}");
            }
            if let Some(link) = &app.bootstrap_sign_in_link {
                println!(
                    "salgate: open this link to sign in to the pages as admin (once, within 7 days):"
                );
                println!("{link}");
            }
            let stop = app.shutdown_token();
            tokio::spawn(async move {
                startup::stop_signal().await;
                tracing::info!("stop signal received, draining");
                stop.cancel();
            });
            app.run_until_stopped().await
        }
        Cmd::Crm {
            command: CrmCmd::Setup { .. },
        } => setup_hubspot(&settings).await,
        Cmd::Db { command } => tokio::task::spawn_blocking(move || db_command(command)).await?,
        Cmd::Migrate => {
            let database = Database::open(&settings).await?;
            println!("migrations applied");
            database.close().await;
            Ok(())
        }
        Cmd::Users {
            command: UsersCmd::Invite { role, rep },
        } => invite(&settings, clock.as_ref(), role, rep).await,
        Cmd::Keys {
            command: KeysCmd::Create { role, rep, name },
        } => create_key(&settings, clock.as_ref(), role, rep, name).await,
    }
}

/// `salgate crm setup hubspot`: creates the salgate contact properties the portal lacks.
async fn setup_hubspot(settings: &Settings) -> anyhow::Result<()> {
    let crm = &settings.crm;
    let token = crm
        .hubspot_access_token
        .as_deref()
        .ok_or_else(|| anyhow::anyhow!("SALGATE_HUBSPOT_ACCESS_TOKEN is not set"))?;
    let policy = salgate::outbound::Policy {
        allow_private: settings.webhook_allow_private_networks,
    };
    let client = salgate::crm::hubspot::HubspotClient::new(&crm.hubspot_api_url, token, policy)
        .map_err(|e| anyhow::anyhow!("SALGATE_HUBSPOT_API_URL: {e}"))?;
    let wanted = salgate::crm::hubspot::property_definitions(&crm.hubspot);
    let created = client
        .ensure_properties(&wanted)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    for name in &wanted {
        let name = name["name"].as_str().unwrap_or_default();
        let what = if created.iter().any(|c| c == name) {
            "created"
        } else {
            "exists"
        };
        println!("{name}: {what}");
    }
    Ok(())
}

/// `salgate users invite`: a one-time sign-in link, alone on the last line.
async fn invite(
    settings: &Settings,
    clock: &dyn Clock,
    role: Role,
    rep: Option<String>,
) -> anyhow::Result<()> {
    let (role, rep) = salgate::service::people::person(role, rep.as_deref())
        .map_err(|e| anyhow::anyhow!("{}", describe(&e)))?;
    let database = Database::open(settings).await?;
    let now = clock.now();
    let expires = now + salgate::service::people::LINK_TTL;
    let created =
        db::sessions::create_link(&database.pool, role, rep.as_deref(), "cli", now, expires).await;
    database.close().await;
    let (link, token) = created?;
    let who = rep
        .as_deref()
        .map_or(role.to_string(), |r| format!("{r} ({role})"));
    println!(
        "sign-in link for {who}, usable once until {}:",
        link.expires_at
    );
    let base = salgate::pages::link_base(settings, None);
    println!("{base}/app/login/{token}");
    Ok(())
}

/// `salgate keys create`: the token alone on the last line.
async fn create_key(
    settings: &Settings,
    clock: &dyn Clock,
    role: Role,
    rep: Option<String>,
    name: Option<String>,
) -> anyhow::Result<()> {
    match (role, &rep) {
        (Role::Sdr, None) => anyhow::bail!("--rep is required for an sdr key"),
        (r, Some(_)) if r != Role::Sdr => anyhow::bail!("--rep applies only to sdr keys"),
        _ => {}
    }
    if let Some(Err(rule)) = rep.as_deref().map(|r| SlugKind::Id.parse(r)) {
        anyhow::bail!("--rep {rule}");
    }
    let database = Database::open(settings).await?;
    let name = name.unwrap_or_else(|| format!("{role} key"));
    let created =
        db::api_keys::create(&database.pool, role, rep.as_deref(), &name, clock.now()).await;
    database.close().await;
    let (key, token) = created?;
    println!("created {role} key {} ({})", key.id, key.name);
    println!("{token}");
    Ok(())
}

/// A refused field as `--rep: an sdr signs in as one rep`.
fn describe(e: &salgate::service::Error) -> String {
    match e {
        salgate::service::Error::Validation(fields) => fields
            .iter()
            .map(|f| format!("--{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// `salgate db start|stop`: blocking (the cluster's programs run one after another).
fn db_command(command: DbCmd) -> anyhow::Result<()> {
    match command {
        DbCmd::Start {
            dir,
            database,
            max_connections,
            port,
            settings,
        } => {
            // It is written into SQL as an identifier.
            let plain = database.starts_with(|c: char| c.is_ascii_lowercase())
                && database
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            anyhow::ensure!(plain, "--database must be lowercase letters, digits and _");
            let opts = EmbeddedOptions {
                dir,
                ephemeral: false,
                database: database.clone(),
                max_connections,
                port,
            };
            let pg = EmbeddedPostgres::start_detached(opts, &settings)?;
            println!("port={}", pg.port());
            println!("cluster_dir={}", pg.cluster_dir().display());
            println!("admin_url={}", pg.admin_url_for(&database));
            println!("app_url={}", pg.database_url());
        }
        DbCmd::Stop { dir } => {
            let stopped = EmbeddedPostgres::stop_detached(&dir)?;
            println!("{}", if stopped { "stopped" } else { "not running" });
        }
    }
    Ok(())
}

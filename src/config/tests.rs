use super::*;

fn with(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let mut f = Figment::new().merge(Toml::string(DEFAULTS));
    for (k, v) in pairs {
        f = f.merge(figment::providers::Serialized::default(k, v));
    }
    Settings::from_figment(f)
}

#[test]
fn acceptance_bands_that_do_not_rise_stop_start_up() {
    let with_number = |key: &str, value: f64| {
        Settings::from_figment(
            Figment::new()
                .merge(Toml::string(DEFAULTS))
                .merge(figment::providers::Serialized::default(key, value)),
        )
    };
    let e = with_number("acceptance_elevated_from", 0.5).unwrap_err();
    assert_eq!(e.env, "SALGATE_ACCEPTANCE_HEALTHY_FROM");
    let s = with_number("acceptance_rubber_stamping_above", 0.9).unwrap();
    assert_eq!(s.acceptance_bands.rubber_stamping_above, 0.9);
}

#[test]
fn defaults_need_no_configuration() {
    let s = with(&[]).unwrap();
    assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    assert!(s.database_url.is_none());
    assert_eq!(s.sla_scan_interval, Duration::from_secs(15));
    // Outbound webhooks reach public https targets only unless told otherwise.
    assert!(!s.webhook_allow_private_networks);
    assert_eq!(s.webhook_concurrency, 32);
    assert_eq!(s.routed_at_max_age, Duration::from_secs(400 * 86_400));
}

#[test]
fn routed_at_max_age_takes_days_and_names_its_variable() {
    let s = with(&[("routed_at_max_age", "30d")]).unwrap();
    assert_eq!(s.routed_at_max_age, Duration::from_secs(30 * 86_400));
    let err = with(&[("routed_at_max_age", "a year")]).unwrap_err();
    assert_eq!(err.env, "SALGATE_ROUTED_AT_MAX_AGE");
    let err = with(&[("inbound_secrets", "Hub Spot=0123456789abcdef")]).unwrap_err();
    assert_eq!(err.env, "SALGATE_INBOUND_SECRETS");
}

#[test]
fn durations_accept_the_documented_units() {
    assert_eq!(
        parse_duration_str("500ms"),
        Some(Duration::from_millis(500))
    );
    assert_eq!(parse_duration_str("15s"), Some(Duration::from_secs(15)));
    assert_eq!(parse_duration_str("2m"), Some(Duration::from_secs(120)));
    assert_eq!(
        parse_duration_str("400d"),
        Some(Duration::from_secs(400 * 86_400))
    );
    assert_eq!(parse_duration_str("15"), None);
    assert_eq!(parse_duration_str("s"), None);
    assert_eq!(parse_duration_str("1.5s"), None);
}

#[test]
fn a_malformed_interval_names_its_environment_variable() {
    let err = with(&[("sla_scan_interval", "soon")]).unwrap_err();
    assert_eq!(err.env, "SALGATE_SLA_SCAN_INTERVAL");
    assert!(
        err.to_string().contains("SALGATE_SLA_SCAN_INTERVAL"),
        "{err}"
    );
}

#[test]
fn a_malformed_listen_address_names_its_setting() {
    let err = with(&[("listen", "localhost")]).unwrap_err();
    assert_eq!(err.env, "SALGATE_LISTEN");
}

#[test]
fn the_cache_ttl_is_bounded() {
    assert!(with(&[("cache_ttl", "60s")]).is_ok());
    let err = with(&[("cache_ttl", "1000h")]).unwrap_err();
    assert_eq!(err.env, "SALGATE_CACHE_TTL");
    assert_eq!(
        with(&[("cache_ttl", "61s")]).unwrap_err().env,
        "SALGATE_CACHE_TTL"
    );
}

#[test]
fn retention_periods_take_days_and_off() {
    let s = with(&[]).unwrap();
    assert_eq!(s.retention.webhooks, Some(Duration::from_secs(30 * 86_400)));
    assert_eq!(s.retention.auto_reps, None);
    let s = with(&[("retention_receipts", "off"), ("retention_webhooks", "12h")]).unwrap();
    assert_eq!(s.retention.receipts, None);
    assert_eq!(s.retention.webhooks, Some(Duration::from_secs(12 * 3600)));
    let err = with(&[("retention_dead_webhooks", "soon")]).unwrap_err();
    assert_eq!(err.env, "SALGATE_RETENTION_DEAD_WEBHOOKS");
}

#[test]
fn a_non_postgres_database_url_is_refused() {
    let err = with(&[("database_url", "mysql://x")]).unwrap_err();
    assert_eq!(err.env, "DATABASE_URL");
}

#[test]
fn email_settings_come_together_and_are_checked_at_start_up() {
    let s = with(&[]).unwrap();
    assert!(s.smtp_url.is_none() && !s.smtp_allow_plaintext);
    let s = with(&[
        ("smtp_url", "smtps://u:p%40ss@mail.example.com"),
        ("email_from", "Salgate <salgate@example.com>"),
    ])
    .unwrap();
    assert_eq!(
        s.smtp_url.as_deref(),
        Some("smtps://u:p%40ss@mail.example.com")
    );
    let e = with(&[("smtp_url", "smtp://mail.example.com")]).unwrap_err();
    assert_eq!(e.env, "SALGATE_EMAIL_FROM");
    let e = with(&[
        ("smtp_url", "http://mail.example.com"),
        ("email_from", "salgate@example.com"),
    ])
    .unwrap_err();
    assert_eq!(e.env, "SALGATE_SMTP_URL");
    let e = with(&[
        ("smtp_url", "smtp://mail.example.com"),
        ("email_from", "not an address"),
    ])
    .unwrap_err();
    assert_eq!(e.env, "SALGATE_EMAIL_FROM");
}

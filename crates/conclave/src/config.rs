//! Loading the one typed configuration: defaults, then a TOML file, then
//! `CONCLAVE_*` environment variables, then command-line flags.
//!
//! Nested settings use a double underscore in the environment:
//! `CONCLAVE_LIMITS__MAX_UPLOAD_BYTES=1048576` sets `limits.max_upload_bytes`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use conclave_server::config::ServerConfig;
use serde_json::Value;

/// Where settings came from, for the command line to override.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<String>,
}

pub fn load(
    overrides: &Overrides,
    environment: impl Iterator<Item = (String, String)>,
) -> anyhow::Result<ServerConfig> {
    let environment: Vec<(String, String)> = environment.collect();
    let mut merged =
        serde_json::to_value(ServerConfig::default()).context("serialising defaults")?;

    // The file: --config, else conclave.toml in the data directory.
    let env_data_dir = environment
        .iter()
        .find(|(key, _)| key == "CONCLAVE_DATA_DIR")
        .map(|(_, v)| PathBuf::from(v));
    let data_dir = overrides
        .data_dir
        .clone()
        .or(env_data_dir)
        .unwrap_or_else(|| ServerConfig::default().data_dir);
    let file = match &overrides.config_file {
        Some(path) => Some(path.clone()),
        None => Some(data_dir.join("conclave.toml")).filter(|path| path.is_file()),
    };
    if let Some(path) = &file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let table: toml::Table =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let value = serde_json::to_value(table).context("converting the TOML file")?;
        merge(&mut merged, value);
    }

    for (key, value) in &environment {
        let Some(path) = key.strip_prefix("CONCLAVE_") else {
            continue;
        };
        let path: Vec<String> = path.split("__").map(str::to_lowercase).collect();
        // Only known settings: CONCLAVE_TEST_* and the like are not ours.
        if !has_path(&merged, &path) {
            continue;
        }
        set_path(&mut merged, &path, parse_scalar(value));
    }

    let mut config: ServerConfig = serde_json::from_value(merged).map_err(|error| {
        anyhow::anyhow!(
            "invalid configuration{}: {error}",
            file.as_ref()
                .map(|p| format!(" (file {})", p.display()))
                .unwrap_or_default()
        )
    })?;
    if let Some(dir) = &overrides.data_dir {
        config.data_dir = dir.clone();
    }
    if let Some(url) = &overrides.database_url {
        config.database_url = Some(url.clone());
    }
    if let Some(listen) = &overrides.listen {
        config.listen = listen.clone();
    }
    if config.database_url.as_deref() == Some("") {
        config.database_url = None;
    }
    validate(&config)?;
    Ok(config)
}

fn validate(config: &ServerConfig) -> anyhow::Result<()> {
    if config.limits.max_upload_bytes == 0 {
        bail!("limits.max_upload_bytes must be positive");
    }
    if config.limits.messages_per_second <= 0.0 || config.limits.requests_per_second <= 0.0 {
        bail!("rate limits must be positive");
    }
    if config.sessions.lifetime_hours <= 0 {
        bail!("sessions.lifetime_hours must be positive");
    }
    if config.websocket.queue_frames < 16 {
        bail!("websocket.queue_frames must be at least 16");
    }
    Ok(())
}

fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(base), Value::Object(overlay)) => {
            for (key, value) in overlay {
                match base.get_mut(&key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value)
                    }
                    _ => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, overlay) => *base = overlay,
    }
}

fn has_path(value: &Value, path: &[String]) -> bool {
    let mut current = value;
    for key in path {
        match current.get(key) {
            Some(next) => current = next,
            None => return false,
        }
    }
    !current.is_object()
}

fn set_path(value: &mut Value, path: &[String], new: Value) {
    let mut current = value;
    for key in path {
        current = &mut current[key.as_str()];
    }
    *current = new;
}

/// Environment values are text; numbers and booleans are read as such.
fn parse_scalar(text: &str) -> Value {
    if let Ok(number) = text.parse::<i64>() {
        return Value::from(number);
    }
    if let Ok(number) = text.parse::<f64>() {
        return Value::from(number);
    }
    match text {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => Value::String(text.to_string()),
    }
}

/// The example configuration: every setting at its default.
pub fn example() -> anyhow::Result<String> {
    let body = toml::to_string_pretty(&ServerConfig::default()).context("rendering the example")?;
    Ok(format!(
        "# Conclave configuration: every setting with its default.\n\
         # Put this in DATA_DIR/conclave.toml or pass --config. Environment\n\
         # variables override it: CONCLAVE_LISTEN, CONCLAVE_DATA_DIR,\n\
         # CONCLAVE_DATABASE_URL, and CONCLAVE_SECTION__KEY for nested keys.\n\
         # database_url (PostgreSQL; absent means SQLite in the data dir) is unset by default.\n\
         # [encryption] master_key_file (default DATA_DIR/master.key, created 0600) or\n\
         # master_key (base64; best as CONCLAVE_ENCRYPTION__MASTER_KEY) set the master key.\n\n{body}"
    ))
}

pub fn sqlite_path(data_dir: &Path) -> PathBuf {
    data_dir.join("conclave.db")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = std::env::temp_dir().join(format!("conclave-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("conclave.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\n[limits]\nmax_upload_bytes = 1000\nmessages_burst = 5.0\n",
        )
        .unwrap();
        let overrides = Overrides {
            config_file: Some(file.clone()),
            ..Overrides::default()
        };
        let config = load(
            &overrides,
            env(&[
                ("CONCLAVE_LIMITS__MAX_UPLOAD_BYTES", "2000"),
                ("CONCLAVE_TEST_DATABASE_URL", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000", "from the file");
        assert_eq!(
            config.limits.max_upload_bytes, 2000,
            "the environment beats the file"
        );
        assert_eq!(config.limits.messages_burst, 5.0);
        assert_eq!(config.limits.requests_per_second, 50.0, "default kept");

        let overrides = Overrides {
            config_file: Some(file.clone()),
            listen: Some("127.0.0.1:1".into()),
            ..Overrides::default()
        };
        assert_eq!(
            load(&overrides, env(&[("CONCLAVE_LISTEN", "127.0.0.1:2")]))
                .unwrap()
                .listen,
            "127.0.0.1:1",
            "flags win"
        );
        assert_eq!(
            load(
                &Overrides {
                    config_file: Some(file.clone()),
                    ..Overrides::default()
                },
                env(&[("CONCLAVE_LISTEN", "127.0.0.1:2")])
            )
            .unwrap()
            .listen,
            "127.0.0.1:2"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_and_invalid_settings_are_errors() {
        let dir = std::env::temp_dir().join(format!("conclave-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("conclave.toml");
        std::fs::write(&file, "lisen = \"typo\"\n").unwrap();
        let overrides = Overrides {
            config_file: Some(file.clone()),
            ..Overrides::default()
        };
        let error = load(&overrides, env(&[])).unwrap_err().to_string();
        assert!(error.contains("lisen"), "{error}");
        std::fs::write(&file, "[limits]\nmax_upload_bytes = 0\n").unwrap();
        assert!(load(&overrides, env(&[])).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_example_file_in_the_repository_is_current() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../conclave.example.toml");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            committed,
            example().unwrap(),
            "run `conclave config example > conclave.example.toml`"
        );
        // And it parses back to the defaults.
        let overrides = Overrides {
            config_file: Some(path),
            ..Overrides::default()
        };
        assert_eq!(load(&overrides, env(&[])).unwrap(), ServerConfig::default());
    }
}
